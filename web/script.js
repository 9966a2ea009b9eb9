// Looks a user up through the API whose URL the deploy step writes into config.js (window.APP_CONFIG).
"use strict";

(function () {
  const config = window.APP_CONFIG || {};
  const form = document.getElementById("lookup");
  const input = document.getElementById("user-id");
  const button = document.getElementById("lookup-button");
  const result = document.getElementById("result");

  const MESSAGES = {
    400: "Please enter a valid user ID.",
    404: (id) => `No user found with ID "${id}".`,
    500: "The server had a problem. Please try again later.",
    network: "Could not reach the API. Check your connection and try again.",
    unconfigured: "The API address is not configured (config.js is missing).",
  };

  function showMessage(text, isError) {
    result.replaceChildren();
    const p = document.createElement("p");
    p.className = isError ? "message error" : "message";
    p.dataset.kind = "message";
    p.textContent = text;
    result.appendChild(p);
  }

  function showUser(user) {
    result.replaceChildren();
    const list = document.createElement("dl");
    list.className = "user";
    for (const [key, value] of Object.entries(user)) {
      const term = document.createElement("dt");
      term.textContent = key;
      const detail = document.createElement("dd");
      detail.textContent = typeof value === "object" ? JSON.stringify(value) : String(value);
      list.append(term, detail);
    }
    result.appendChild(list);
  }

  async function readError(response) {
    try {
      const body = await response.json();
      return body.error || body.message || "";
    } catch (e) {
      return "";
    }
  }

  async function lookUp(userId) {
    if (!config.apiUrl) {
      showMessage(MESSAGES.unconfigured, true);
      return;
    }
    let response;
    try {
      // A plain GET with no custom headers: a "simple" request, so the browser sends no preflight.
      response = await fetch(`${config.apiUrl}?userId=${encodeURIComponent(userId)}`);
    } catch (e) {
      // fetch rejects on network failures and on responses the browser blocks for CORS.
      showMessage(MESSAGES.network, true);
      return;
    }
    if (response.ok) {
      showUser(await response.json());
    } else if (response.status === 404) {
      showMessage(MESSAGES[404](userId), true);
    } else if (response.status === 400) {
      const detail = await readError(response);
      showMessage(detail ? `${MESSAGES[400]} (${detail})` : MESSAGES[400], true);
    } else if (response.status >= 500) {
      showMessage(MESSAGES[500], true);
    } else {
      showMessage(`Unexpected answer from the API (HTTP ${response.status}).`, true);
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    showMessage("Loading…", false);
    try {
      await lookUp(input.value.trim());
    } finally {
      button.disabled = false;
    }
  });
})();
