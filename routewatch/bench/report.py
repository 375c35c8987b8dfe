"""The result as plain-text tables (what `routewatch bench` prints without --json)."""


from typing import Any


# ---- text output -----------------------------------------------------------------------------------------
def format_table(result: dict[str, Any]) -> str:
    """The result as plain-text tables (what `routewatch bench` prints without --json)."""
    m = result["machine"]
    lines = [f"RouteWatch bench — {result['date']}{'  (quick)' if result.get('quick') else ''}",
             f"machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['ram_mb']} MB RAM, Python {m['python']}, "
             f"SQLite {m['sqlite']}; load avg {m['load_avg']} → {result.get('load_avg_end')}", ""]
    tr = result.get("transcription")
    if tr:
        lines.append("1. Transcription (demo corpus)")
        if "error" in tr:
            lines.append(f"   error: {tr['error']}")
        else:
            st, nv = tr["stage"], tr["naive"]
            lines += [
                f"   {tr['clips']} clips, {tr['corpus_audio_s']} s of audio, median of {tr['repeats']} run(s)",
                f"   {'':<24}{'wall s':>9}{'CPU s':>9}{'RTF':>8}{'CER zh':>8}{'WER en':>8}{'WER es':>8}",
                f"   {'stage (VAD, dedupe)':<24}{st['wall_s']:>9}{st['cpu_s']:>9}{_fmt(st['rtf_over_corpus']):>8}"
                f"{_fmt(st.get('cer_zh')):>8}{_fmt(st.get('wer_en')):>8}{_fmt(st.get('wer_es')):>8}",
                f"   {'naive loop':<24}{nv['wall_s']:>9}{nv['cpu_s']:>9}{_fmt(nv['rtf']):>8}"
                f"{_fmt(nv.get('cer_zh')):>8}{_fmt(nv.get('wer_en')):>8}{_fmt(nv.get('wer_es')):>8}",
                "   pairs (each side in a fresh process; CPU = process + threads + ffmpeg):",
                *[f"     {i + 1}. {p['order']:<13} naive {p['naive_wall_s']:>7} s / {p['naive_cpu_s']:>7} CPU s   "
                  f"stage {p['stage_wall_s']:>7} s / {p['stage_cpu_s']:>7} CPU s   "
                  f"CPU {p['cpu_ratio']}×  wall {p['wall_ratio']}×" for i, p in enumerate(tr.get("pairs", []))],
                f"   speed-up, median of the pairs: CPU {tr['cpu_ratio_median']}× (wall {tr['wall_ratio_median']}×); "
                f"CER not worse than naive: {tr['cer_not_worse']}, within 0.01 of stop 10: {tr['cer_within_today']}",
                f"   stage on the clips it sent to the model: CER zh {_fmt(tr['stage_asr_only'].get('cer_zh'))}, "
                f"WER en {_fmt(tr['stage_asr_only'].get('wer_en'))}, es {_fmt(tr['stage_asr_only'].get('wer_es'))}",
                "   counters: " + ", ".join(f"{k.split('/', 1)[1]} {v}" for k, v in sorted(tr["counters"].items())),
                *_fp_lines(tr.get("fingerprint_index")),
                f"   stage RTF on transcribed audio: {st['rtf']} (model only {st['rtf_model_only']}); "
                f"{st['transcribed']} transcribed, {st['reused']} reused, {st['failed']} failed",
                "",
            ]
    ex = result.get("extraction")
    if ex:
        lines += ["2. Extraction", f"   {ex['posts_per_s_per_core']:,.0f} posts/s per core (runs {ex['runs']})", ""]
    oc = result.get("ocr")
    if oc:
        lines.append("2b. On-screen text (ocr_dev)")
        if "error" in oc:
            lines.append(f"   error: {oc['error']}")
        else:
            nv = oc.get("naive", {})
            lines += [
                f"   {oc['clips']} clips, {oc['threads']} threads; load {oc['load_before']} → {oc['load_after']}",
                f"   {'':<12}{'CER':>8}{'wall s/s':>10}{'CPU s/s':>9}{'leaks':>7}{'starts<=1s':>12}",
                f"   {'stage':<12}{oc['cer']:>8}{oc['ocr_s_per_video_s']:>10}{oc['cpu_s_per_video_s']:>9}"
                f"{oc['leaks']:>7}{oc['start_within_1s']:>12}",
                f"   {'naive':<12}{nv.get('cer', '-'):>8}{nv.get('ocr_s_per_video_s', '-'):>10}"
                f"{nv.get('cpu_s_per_video_s', '-'):>9}{nv.get('leaks', '-'):>7}{'':>12}",
                f"   frames read per video s {oc['frames_read_per_video_s']}; extraction F1 {oc['extraction_f1']}",
                "",
            ]
    ix = result.get("index")
    if ix:
        lines.append("3. Index (synthetic corpus; latencies warm, ms)")
        lines.append(f"   {'backend':<15}{'posts':>10}{'docs/s':>9}{'MB':>8}{'search p50':>12}{'p95':>10}"
                     f"{'trend p50':>11}{'p95':>10}")
        for backend in ("sqlite", "elasticsearch"):
            rows = ix.get(backend) or {}
            if "error" in rows:
                lines.append(f"   {backend:<15} error: {rows['error']}")
                continue
            for n, r in sorted(rows.items(), key=lambda kv: int(kv[0])):
                star = "*" if r.get("build", "default") != "default" else ""
                cut = f"  ({r['timeouts']} queries cut at {r['timeout_s']:g} s)" if r.get("timeouts") else ""
                lines.append(f"   {backend:<15}{int(n):>10,}{_fmt(r['docs_per_s'], 0) + star:>9}"
                             f"{_fmt(r.get('file_mb'), 0):>8}{r['search']['p50_ms']:>12,.1f}{r['search']['p95_ms']:>10,.1f}"
                             f"{r['trend_week']['p50_ms']:>11,.1f}{r['trend_week']['p95_ms']:>10,.1f}{cut}")
        sq, es = ix.get("sqlite") or {}, ix.get("elasticsearch") or {}
        for n in sorted(set(sq) & set(es), key=int):
            if "error" in es:
                break
            lines.append(f"   at {int(n):,}: SQLite p95 / Elasticsearch p95 = search "
                         f"{sq[n]['search']['p95_ms'] / max(es[n]['search']['p95_ms'], 1e-9):,.1f}×, trend "
                         f"{sq[n]['trend_week']['p95_ms'] / max(es[n]['trend_week']['p95_ms'], 1e-9):,.1f}×")
        for backend in ("sqlite", "elasticsearch"):
            rows = ix.get(backend) or {}
            if not rows or "error" in rows:
                continue
            sizes_ = sorted(rows, key=int)
            lines.append(f"   {backend} by query kind, wall p50 / p95 ms (CPU p95 ms of the client thread):")
            lines.append("     " + " " * 18 + "".join(f"{int(n):>30,}" for n in sizes_))
            for k in rows[sizes_[-1]]["by_category"]:
                cells = ""
                for n in sizes_:
                    v = rows[n]["by_category"].get(k)
                    c = (rows[n].get("by_category_cpu") or {}).get(k)
                    cells += (f"{v['p50_ms']:>10,.1f}{v['p95_ms']:>10,.1f}" + (f"{'(' + format(c['p95_ms'], ',.1f') + ')':>10}"
                              if c else " " * 10)) if v else " " * 30
                lines.append(f"     {k:<18}{cells}")
            for n in sizes_:
                if rows[n].get("search_cpu"):
                    lines.append(f"     CPU at {int(n):,}: search p50 {rows[n]['search_cpu']['p50_ms']:,.1f} / p95 "
                                 f"{rows[n]['search_cpu']['p95_ms']:,.1f} ms, trend p50 "
                                 f"{rows[n]['trend_week_cpu']['p50_ms']:,.1f} / p95 {rows[n]['trend_week_cpu']['p95_ms']:,.1f} ms")
        if any(r.get("build", "default") != "default" for r in (ix.get("sqlite") or {}).values()):
            lines.append("   * built with PRAGMA synchronous=OFF (bench bulk load); others as `routewatch index` writes")
        lines.append("")
    mem = result.get("memory")
    if mem:
        lines.append("4. Memory peak per stage (demo corpus, child process)")
        if "error" in mem:
            lines.append(f"   error: {mem['error']}")
        else:
            for stage, r in mem["stages"].items():
                lines.append(f"   {stage:<11}{r['peak_mb']:>8} MB   ({r['wall_s']} s, {r['done']} done, "
                             f"{r['reused']} reused, {r['failed']} failed)")
        lines.append("")
    wk = result.get("workers")
    if wk:
        lines.append("Distributed mode: the demo on 1 and 2 workers (PostgreSQL + Elasticsearch)")
        if "error" in wk:
            lines.append(f"   error: {wk['error']}")
        else:
            queues = sorted({q for r in wk["runs"] for q in r["queues"]})
            lines.append(f"   {'workers':<9}{'wall s':>8}{'CPU s':>8}{'speed-up':>10}  " + "".join(f"{q:>12}" for q in queues))
            for r in wk["runs"]:
                lines.append(f"   {r['workers']:<9}{r['wall_seconds']:>8}{r['cpu_seconds']:>8}{_fmt(r['speedup'], 2):>10}  "
                             + "".join(f"{r['queues'].get(q, {}).get('seconds', 0):>11}s" for q in queues))
            lines.append(f"   ({wk['note']})")
        lines.append("")
    if result.get("targets"):
        lines.append("Targets")
        for t in result["targets"]:
            lines.append(f"   [{'met' if t['met'] else 'MISSED'}] {t['target']}: {t['value']}")
    return "\n".join(lines)


def _fp_lines(fx: dict[str, Any] | None) -> list[str]:
    if not fx:
        return []
    return [f"   repost lookup at {fx['stored']:,} stored fingerprints: index p50 {fx['lookup_ms']['p50_ms']} / p95 "
            f"{fx['lookup_ms']['p95_ms']} ms (CPU {fx['lookup_cpu_ms']['p50_ms']} / {fx['lookup_cpu_ms']['p95_ms']} ms, "
            f"median {fx['candidates_median']} candidates, built in {fx['build_s']} s) vs scan "
            f"{fx['scan_ms_per_clip']} ms per clip; same matches as the scan: {fx['same_matches_as_scan']}/{fx['clips']}"]


def _fmt(x: Any, nd: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:,.{nd}f}" if nd else f"{x:,.0f}"
    return str(x)
