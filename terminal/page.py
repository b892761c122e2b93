"""The counter page: one screen, readable from a step away. A large green / red / amber
verdict, the reasons in English and Chinese, the holder's name and photo to compare, the
fields the site policy allows; it updates live from the agent's Server-Sent Events.

All card data is put on the page with textContent / image src (never innerHTML).
"""

PAGE = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sscard terminal</title>
<style>
  :root { --valid:#1b7f3b; --invalid:#c62828; --indeterminate:#f2a900; --idle:#455a64; }
  * { box-sizing: border-box; }
  body { margin:0; font-family: "Noto Sans", "DejaVu Sans", "Droid Sans Fallback", sans-serif;
         background:#f4f6f8; color:#111; }
  header { display:flex; justify-content:space-between; align-items:center; padding:10px 24px;
           background:#263238; color:#fff; font-size:20px; }
  header .site { font-weight:bold; }
  header .conn.down { color:#ffab91; }
  #banner { padding:28px 24px; color:#fff; background:var(--idle); }
  #banner.VALID { background:var(--valid); }
  #banner.INVALID { background:var(--invalid); }
  #banner.INDETERMINATE { background:var(--indeterminate); color:#111; }
  #outcome { font-size:84px; font-weight:800; letter-spacing:2px; line-height:1.05; }
  #outcome-zh { font-size:48px; font-weight:700; margin-top:4px; }
  #action { font-size:30px; font-weight:700; margin-top:10px; }
  #source { font-size:18px; opacity:.9; margin-top:8px; }
  main { display:flex; gap:28px; padding:24px; align-items:flex-start; }
  #photo-box { width:260px; min-height:320px; background:#fff; border:2px solid #cfd8dc; border-radius:8px;
               display:flex; align-items:center; justify-content:center; text-align:center; padding:10px; }
  #photo-box img { max-width:100%; max-height:320px; }
  #photo-note { font-size:17px; color:#37474f; }
  #details { flex:1; }
  #name { font-size:44px; font-weight:800; }
  #name-zh { font-size:34px; font-weight:700; color:#263238; }
  table.fields { border-collapse:collapse; margin-top:14px; font-size:22px; }
  table.fields th { text-align:left; padding:6px 18px 6px 0; color:#455a64; font-weight:600; vertical-align:top; }
  table.fields td { padding:6px 0; font-weight:700; }
  #reasons { margin:0 24px 24px; }
  .reason { background:#fff; border-left:8px solid var(--invalid); padding:12px 16px; margin-bottom:10px;
            border-radius:4px; }
  .reason.indeterminate { border-left-color:var(--indeterminate); }
  .reason .en { font-size:26px; font-weight:700; }
  .reason .zh { font-size:26px; }
  .reason .code { font-size:14px; color:#607d8b; font-family: monospace; margin-top:4px; }
  main.muted #details, main.muted #photo-box { opacity:.55; }
  #caution { font-size:20px; font-weight:700; color:#b71c1c; margin-bottom:8px; }
  footer { padding:8px 24px; color:#546e7a; font-size:15px; }
</style>
</head>
<body>
<header><span class="site" id="site">…</span><span id="trust"></span><span class="conn" id="conn">connecting…</span></header>
<section id="banner" class="idle" data-outcome="">
  <div id="outcome">Insert card or scan QR</div>
  <div id="outcome-zh">请插卡或扫描二维码</div>
  <div id="action"></div>
  <div id="source"></div>
</section>
<main>
  <div id="photo-box"><span id="photo-note">Photo<br>照片</span></div>
  <div id="details">
    <div id="caution"></div>
    <div id="name"></div>
    <div id="name-zh"></div>
    <table class="fields"><tbody id="fields"></tbody></table>
  </div>
</main>
<section id="reasons"></section>
<footer id="footer"></footer>
<script>
"use strict";
const LABELS = {
  medical_insurance: ["Medical insurance", "医疗保险"], employer: ["Employer", "工作单位"],
  position: ["Position", "职位"], work_location: ["Work location", "工作地点"],
  permit_validity: ["Work permit", "工作许可"], work_permit_number: ["Work permit no.", "工作许可证号"],
  permit_category: ["Category", "类别"], nationality: ["Nationality", "国籍"],
  card_number: ["Card no.", "卡号"], card_expiry: ["Card expires", "卡有效期至"],
};
const STATUS = { normal: "normal 正常", suspended: "suspended 暂停", terminated: "terminated 终止",
                 not_enrolled: "not enrolled 未参保", valid: "valid 有效", cancelled: "cancelled 注销" };
const $ = (id) => document.getElementById(id);
function text(id, value) { $(id).textContent = value || ""; }
function describe(key, v) {
  if (v === null || v === undefined) return "";
  switch (key) {
    case "medical_insurance":
      return (v.in_force ? "in force 有效" : "NOT in force 无效") + " — " + (STATUS[v.status] || v.status) +
             (v.paid_through ? ", paid through " + v.paid_through + " 缴费至" + v.paid_through : "");
    case "employer": return v.name + (v.uscc ? " (" + v.uscc + ")" : "");
    case "permit_validity": return (STATUS[v.status] || v.status) + ", " + v.valid_from + " – " + v.valid_until;
    default: return String(v);
  }
}
function placeText(code, p) {  // GB/T 2260: the name in both languages, the code beside it
  return p && p.zh ? p.en + " " + p.zh + " (" + code + ")" : String(code);
}
function render(r) {
  const banner = $("banner");
  banner.className = r.outcome; banner.dataset.outcome = r.outcome; banner.dataset.id = r.id;
  text("outcome", r.outcome_en); text("outcome-zh", r.outcome_zh);
  text("action", r.action || "");
  // the time in China (Asia/Shanghai), in the page's two languages, made by the agent
  // (terminal/translations.py china_time): never the browser's own zone or locale
  text("source", r.source + (r.at_china ? " · " + r.at_china.en + " · " + r.at_china.zh : ""));
  const f = r.fields || {};
  const muted = r.outcome !== "VALID" && Object.keys(f).length > 0;
  document.querySelector("main").classList.toggle("muted", muted);
  text("caution", muted ? "Not accepted — details for reference only. 不予受理，以下信息仅供参考。" : "");
  text("name", f.name ? f.name.family_name + (f.name.given_names ? ", " + f.name.given_names : "") : "");
  text("name-zh", f.name && f.name.chinese_name ? f.name.chinese_name : "");
  const box = $("photo-box"); box.replaceChildren();
  if (f.photo && f.photo.available) {
    const img = document.createElement("img"); img.id = "photo"; img.alt = "holder photo 持卡人照片";
    img.src = "data:" + f.photo.media_type + ";base64," + f.photo.base64; box.appendChild(img);
  } else {
    const note = document.createElement("span"); note.id = "photo-note";
    note.textContent = f.photo ? f.photo.note + " " + f.photo.note_zh : "No photo 无照片";
    box.appendChild(note);
  }
  const rows = $("fields"); rows.replaceChildren();
  for (const [key, value] of Object.entries(f)) {
    if (key === "name" || key === "photo") continue;
    const tr = document.createElement("tr"); tr.dataset.field = key;
    const th = document.createElement("th"); th.textContent = (LABELS[key] || [key, ""]).join(" ");
    const td = document.createElement("td");
    td.textContent = key === "work_location" ? placeText(value, (r.places || {}).work_location) : describe(key, value);
    tr.append(th, td); rows.appendChild(tr);
  }
  const reasons = $("reasons"); reasons.replaceChildren();
  for (const reason of r.reasons) {
    const div = document.createElement("div"); div.className = "reason " + reason.status;
    div.dataset.code = reason.code;
    const en = document.createElement("div"); en.className = "en"; en.textContent = reason.en;
    const zh = document.createElement("div"); zh.className = "zh"; zh.textContent = reason.zh;
    const code = document.createElement("div"); code.className = "code";
    code.textContent = reason.code + " · " + reason.check + (reason.detail ? " · " + reason.detail : "");
    div.append(en, zh, code); reasons.appendChild(div);
  }
}
async function refreshStatus() {
  try {
    const s = await (await fetch("/api/status")).json();
    text("site", s.site.title.en + " " + s.site.title.zh);
    const t = s.trust;
    text("trust", t.held ? "trust list v" + t.version + ", " + t.age + " old" + (t.stale_for_site ? " — STALE 已过期" : "")
                         : "NO TRUST LIST 无信任列表");
    text("footer", "terminal " + s.terminal + " · readers: " + (s.readers.join(", ") || "none") +
                   " · scanners: " + (s.scanners.join(", ") || "none") + " · log: " + s.events.total +
                   " events, " + s.events.unforwarded + " not yet forwarded");
  } catch (e) { /* the next refresh tries again */ }
}
function connect() {
  const source = new EventSource("/events");
  source.addEventListener("result", (e) => render(JSON.parse(e.data)));
  source.onopen = () => { text("conn", "live"); $("conn").classList.remove("down"); };
  source.onerror = () => { text("conn", "reconnecting… 重新连接中"); $("conn").classList.add("down"); };
}
refreshStatus(); setInterval(refreshStatus, 5000); connect();
</script>
</body>
</html>
"""
