// Copy buttons: a button with data-copy="ID" copies the text of the
// element with that id (tokens and authorization codes).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button[data-copy]").forEach(function (b) {
    b.addEventListener("click", function () {
      var el = document.getElementById(b.getAttribute("data-copy"));
      if (!el) { return; }
      var text = el.textContent.trim();
      var done = function () { b.textContent = "Copied"; };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, function () {
          window.getSelection().selectAllChildren(el);
        });
      } else {
        window.getSelection().selectAllChildren(el);
      }
    });
  });
});
