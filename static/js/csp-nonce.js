// Content Security Policy: <style> elements that scripts create (plotly.js adds its rules and
// maplibre's CSS this way) get this page's nonce, read from the <script nonce> that loads this
// file. Markup injected into a page still gets no nonce: only our own scripts run to create one.
(function () {
  var script = document.currentScript;
  var nonce = script && script.nonce;
  if (!nonce) return;
  var create = document.createElement;
  document.createElement = function (tagName, options) {
    var element = create.call(document, tagName, options);
    if (String(tagName).toLowerCase() === "style") element.nonce = nonce;
    return element;
  };
})();
