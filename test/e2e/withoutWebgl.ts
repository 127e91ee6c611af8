/**
 * An init script that makes WebGL unavailable in the page, so xterm falls back to its DOM
 * renderer and a test can read the terminal's rows as text (WebGL draws them into a canvas).
 * That is the renderer's documented fallback, so the e2e tests exercise it on purpose.
 */
export const WITHOUT_WEBGL = `(() => {
  const original = HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.getContext = function (kind, ...rest) {
    if (kind === 'webgl' || kind === 'webgl2' || kind === 'experimental-webgl') return null;
    return original.call(this, kind, ...rest);
  };
})();`;
