// Pregón: small enhancements; every page works without this file.
(function () {
  "use strict";
  // The viewer's time zone, so times are shown in it beside the event's zone.
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("pregon_tz=" + zone) === -1) {
      document.cookie = "pregon_tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=lax";
    }
  } catch (e) { /* no Intl: times stay in the configured calendar.viewer_time_zone */ }
  // Copy buttons next to feed links.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) { return; }
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input) { return; }
    input.select();
    if (navigator.clipboard) { navigator.clipboard.writeText(input.value); }
    button.setAttribute("aria-live", "polite");
    button.textContent = button.getAttribute("data-copied") || button.textContent;
  });
})();
