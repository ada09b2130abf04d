// Enhancements only: every page works without this file.
// The error summary (「出现问题」) takes the focus, so a screen reader
// reads it first and a keyboard user starts from it.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }
});
