// The site's routing, run by CloudFront at every viewer request of the default cache behavior (never the API's).
// CloudFront Functions, runtime cloudfront-js-2.0: at most 10 KB of code, no network, no modules. The same rules
// as contract/routing.py (which local mode's site server runs), tested against one table of cases
// (tests/routing_cases.json). The stack replaces the SETTINGS line below with the environment's settings.
const SETTINGS = { indexDocument: "index.html", singlePageApp: false };

// Percent-encodes what may not stand in a URL as it is, keeping escapes already there (%XX), so a value is never
// encoded twice.
const UNSAFE = /%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~!$'()*+,;:@\/%]+/g;

function escape(text) {
  return text.replace(UNSAFE, function (found) {
    return found === "%" ? "%25" : encodeURIComponent(found);
  });
}

// The query string again, from CloudFront's object: every value of every name, in the order given.
function queryString(querystring) {
  var parts = [];
  for (var name in querystring) {
    var field = querystring[name];
    var values = field.multiValue ? field.multiValue : [field];
    for (var i = 0; i < values.length; i++) {
      parts.push(escape(name) + "=" + escape(values[i].value));
    }
  }
  return parts.length ? "?" + parts.join("&") : "";
}

// What to do with a path: pass it through, rewrite it to another object, or redirect to the slash form.
function route(uri) {
  if (uri.indexOf("/.well-known/") === 0) {
    return { action: "pass", uri: uri };
  }
  var last = uri.slice(uri.lastIndexOf("/") + 1);
  if (last === "") {
    return { action: "rewrite", uri: uri + SETTINGS.indexDocument };
  }
  if (last.indexOf(".") !== -1) {
    return { action: "pass", uri: uri };
  }
  if (SETTINGS.singlePageApp) {
    return { action: "rewrite", uri: "/" + SETTINGS.indexDocument };
  }
  // One leading slash: "//host" would send the browser to another site.
  return { action: "redirect", uri: escape("/" + uri.replace(/^\/+/, "") + "/") };
}

function handler(event) {
  var request = event.request;
  var decision = route(request.uri);
  if (decision.action === "redirect") {
    return {
      statusCode: 301,
      statusDescription: "Moved Permanently",
      headers: { location: { value: decision.uri + queryString(request.querystring) } },
    };
  }
  request.uri = decision.uri;
  return request;
}
