// Enhancements only: every page works without this file.

document.addEventListener("DOMContentLoaded", function () {
  // The error summary (「出现问题」) takes the focus, so a screen reader
  // reads it first and a keyboard user starts from it.
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }
  sessionTimeoutWarning();
});

// A staff session ends after a while without activity. Two minutes before
// it would, a notice at the top of the page says so (no pop-up) and offers
// to go on; going on asks the server, which counts as activity.
function sessionTimeoutWarning() {
  if (!/^\/(console|account)(\/|$)/.test(location.pathname)) {
    return;
  }
  var main = document.getElementById("main");
  var timer = null;
  var notice = null;

  function schedule(idleSeconds) {
    clearTimeout(timer);
    var warnAfter = Math.max(idleSeconds - 120, idleSeconds / 2);
    timer = setTimeout(show, warnAfter * 1000);
  }

  function show() {
    if (!notice) {
      notice = document.createElement("div");
      notice.id = "session-warning";
      notice.className = "warn";
      notice.setAttribute("role", "alert");
      var text = document.createElement("p");
      text.textContent = "您已较长时间未操作，为保护账号安全，登录将在约2分钟后结束。";
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = "继续使用（延长登录）";
      button.addEventListener("click", extend);
      notice.appendChild(text);
      notice.appendChild(button);
      main.insertBefore(notice, main.firstChild);
    }
    notice.hidden = false;
    notice.querySelector("button").focus();
  }

  function extend() {
    current().then(function (view) {
      if (view) {
        notice.hidden = true;
        schedule(view.idle_timeout_secs);
      } else {
        location.href = "/login";
      }
    });
  }

  function current() {
    return fetch("/api/v1/session", { credentials: "same-origin" }).then(function (r) {
      return r.ok ? r.json() : null;
    });
  }

  current().then(function (view) {
    if (view) {
      schedule(view.idle_timeout_secs);
    }
  });
}
