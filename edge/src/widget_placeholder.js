/* kefu widget PLACEHOLDER, served by kefu-edge until the real widget is
 * built (its own issue). It does nothing but say so. */
(function () {
  if (typeof console !== "undefined") {
    console.warn("kefu widget not built yet");
  }
})();
