// nmocart: the few behaviours the pages need without inline scripts (the CSP forbids them).
document.addEventListener("click", function (event) {
  var target = event.target;
  if (target instanceof Element && target.closest("[data-print]")) {
    event.preventDefault();
    window.print();
  }
});
