// Runs the site router's rendered code as CloudFront Functions would: in a context of its own (no require, no
// process, no network), calling handler(event) with a viewer-request event. Reads {code, requests} as JSON on
// stdin and writes one {status, uri, location, querystring} per request as JSON on stdout.
"use strict";
const vm = require("vm");

// CloudFront's query object from the raw query string: names and values as the viewer sent them, one entry per
// name, with every value in multiValue when the name came more than once.
function querystringObject(raw) {
  const found = {};
  for (const part of raw.split("&")) {
    if (!part) continue;
    const at = part.indexOf("=");
    const name = at === -1 ? part : part.slice(0, at);
    const value = at === -1 ? "" : part.slice(at + 1);
    (found[name] = found[name] || []).push(value);
  }
  const object = {};
  for (const [name, values] of Object.entries(found)) {
    object[name] = { value: values[0] };
    if (values.length > 1) object[name].multiValue = values.map((value) => ({ value }));
  }
  return object;
}

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const { code, requests } = JSON.parse(input);
  const handler = vm.runInNewContext(`${code}\n;handler`, {}, { filename: "site_router.js" });
  const answers = requests.map(({ uri, query }) => {
    const event = {
      version: "1.0",
      context: { eventType: "viewer-request" },
      viewer: { ip: "192.0.2.1" },
      request: { method: "GET", uri, querystring: querystringObject(query || ""), headers: {}, cookies: {} },
    };
    const result = handler(event);
    if (result.statusCode !== undefined) {
      return { status: result.statusCode, location: result.headers.location.value };
    }
    return { status: null, uri: result.uri, querystring: result.querystring };
  });
  process.stdout.write(JSON.stringify(answers));
});
