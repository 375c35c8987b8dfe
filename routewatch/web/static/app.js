// RouteWatch post page: start the local media at the search hit's second, follow playback in the
// transcript, seek from timestamps, and tie extracted facts to their highlighted evidence.
(function () {
  "use strict";
  var player = document.getElementById("player");

  function play(p) {
    var r = p.play();
    if (r && r.catch) {
      r.catch(function () {
        // Autoplay with sound needs a click; start muted rather than not at all.
        p.muted = true;
        var hint = document.getElementById("player-hint");
        if (hint) hint.hidden = false;
        p.play().catch(function () {});
      });
    }
  }

  function seek(t, start) {
    if (!player || isNaN(t)) return;
    var go = function () {
      player.currentTime = t;
      document.body.setAttribute("data-player-seeked", String(t));
      if (start) play(player);
    };
    if (player.readyState >= 1) go(); else player.addEventListener("loadedmetadata", go, { once: true });
  }

  if (player) {
    var start = parseFloat(player.getAttribute("data-start"));
    if (!isNaN(start)) seek(start, true);
    var segs = Array.prototype.slice.call(document.querySelectorAll("li.seg[data-start]"));
    player.addEventListener("timeupdate", function () {
      var t = player.currentTime;
      segs.forEach(function (s) {
        var a = parseFloat(s.getAttribute("data-start")), b = parseFloat(s.getAttribute("data-end"));
        s.classList.toggle("playing", t >= a && t < b);
      });
    });
  }

  document.addEventListener("click", function (e) {
    var b = e.target.closest ? e.target.closest("[data-seek]") : null;
    if (!b || !player) return;
    e.preventDefault();
    seek(parseFloat(b.getAttribute("data-seek")), true);
  });

  Array.prototype.forEach.call(document.querySelectorAll("li[data-fact]"), function (li) {
    var id = li.getAttribute("data-fact");
    var marks = Array.prototype.filter.call(document.querySelectorAll("mark[data-facts]"), function (m) {
      return m.getAttribute("data-facts").split(" ").indexOf(id) >= 0;
    });
    li.addEventListener("mouseenter", function () { marks.forEach(function (m) { m.classList.add("active"); }); });
    li.addEventListener("mouseleave", function () { marks.forEach(function (m) { m.classList.remove("active"); }); });
  });

  var hit = document.querySelector("li.seg.hit");
  if (hit && hit.scrollIntoView) hit.scrollIntoView({ block: "center" });
})();
