// Venue dashboard: acknowledge alerts in place and show new alerts live (server-sent events).
// Hand-written, no dependencies. Alert text is only ever set with textContent, never as HTML.
(function () {
  "use strict";

  var section = document.getElementById("alerts");
  if (!section) { return; }
  var list = document.getElementById("alert-list");
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var state = document.getElementById("live-state");
  var announcer = document.getElementById("alert-announcer");
  var unread = document.getElementById("unread-count");

  function setUnread(delta) {
    var n = Math.max(0, parseInt(unread.textContent, 10) + delta);
    unread.textContent = String(n);
    unread.setAttribute("aria-label", n + " unread");
  }

  function acknowledged(item, alert) {
    var slot = item.querySelector('[data-field="ack"]');
    slot.textContent = "Acknowledged by " + (alert.acknowledged_by || "you") + " just now";
    if (item.classList.contains("unread")) { setUnread(-1); }
    item.classList.remove("unread");
  }

  // Progressive enhancement: without this script the form posts and the page reloads.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("ack-form")) { return; }
    event.preventDefault();
    var button = form.querySelector("button");
    button.disabled = true;
    fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf },
      body: new URLSearchParams(new FormData(form))
    }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    }).then(function (alert) {
      acknowledged(form.closest("li.alert"), alert);
    }).catch(function () {
      button.disabled = false;
      form.submit();
    });
  });

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function ackForm(alertId) {
    var template = document.getElementById("ack-form-template");
    var form = template.content.firstElementChild.cloneNode(true);
    form.setAttribute("action", form.getAttribute("action").replace("ALERT_ID", encodeURIComponent(alertId)));
    return form;
  }

  function alertItem(alert) {
    var level = String(alert.level).replace(/[^a-z]/g, "");
    var item = el("li", "alert unread fresh level-" + level);
    item.id = "alert-" + alert.alert_id;
    item.dataset.alertId = alert.alert_id;
    var head = el("div", "alert-head");
    head.appendChild(el("span", "badge level-" + level, alert.level));
    head.appendChild(el("strong", "alert-title", alert.title));
    item.appendChild(head);
    item.appendChild(el("p", "alert-text", alert.description));
    var foot = el("div", "alert-foot");
    var time = el("time", "", "just now");
    time.setAttribute("datetime", alert.detected_at);
    foot.appendChild(time);
    var slot = el("span", "ack-state");
    slot.dataset.field = "ack";
    slot.appendChild(ackForm(alert.alert_id));
    foot.appendChild(slot);
    item.appendChild(foot);
    return item;
  }

  function arrived(alert) {
    if (document.getElementById("alert-" + alert.alert_id)) { return; }  // replay after reconnect
    list.insertBefore(alertItem(alert), list.firstChild);
    document.getElementById("no-alerts").hidden = true;
    setUnread(1);
    announcer.textContent = "New " + alert.level + " alert: " + alert.title;
  }

  if (!window.EventSource) { state.textContent = "Live updates unavailable"; return; }
  var source = new EventSource(section.dataset.stream);
  source.addEventListener("open", function () {
    state.textContent = "Live";
    state.classList.add("on");
  });
  source.addEventListener("error", function () {
    // CLOSED: the server declined the stream (204 where no live connection is served, as
    // behind API Gateway); the browser does not retry then.
    var closed = source.readyState === EventSource.CLOSED;
    state.textContent = closed ? "Live updates off: reload for new alerts" : "Reconnecting…";
    state.classList.remove("on");
  });
  source.addEventListener("alert.created", function (event) {
    arrived(JSON.parse(event.data));
  });
})();
