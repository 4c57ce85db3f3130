// Counter page: grab camera frames into a canvas, send them as JPEG to POST /verify until a QR
// is read, show the verdict, and keep scanning so the next licence needs no click.
"use strict";

(() => {
  const {
    el, bi, api, errorText, cameraErrorWords, outcomeWords, formatDate, formatDateTime, ageWords,
    durationWords, statusFreshness, row,
  } = ELICENCE;

  const SCAN_INTERVAL_MS = 400;
  // The same licence held in front of the camera is not re-announced for this long.
  const REPEAT_QUIET_MS = 4000;
  const MAX_FRAME_WIDTH = 960;
  // Status information older than this many minutes shows red unless the counter sets otherwise.
  const DEFAULT_MAX_STATUS_MINUTES = 60;

  const video = document.getElementById("camera");
  const canvas = document.getElementById("frame-canvas");
  const toggle = document.getElementById("camera-toggle");
  const scanState = document.getElementById("scan-state");
  const scanError = document.getElementById("scan-error");
  const verdictBox = document.getElementById("verdict");
  const licenceCard = document.getElementById("licence-card");
  const facts = document.getElementById("licence-facts");
  const photo = document.getElementById("photo");
  const partyPurpose = document.getElementById("party-purpose");
  const maxStatusInput = document.getElementById("max-status-minutes");

  let stream = null;
  let timer = null;
  let busy = false;
  let last = { key: null, at: 0 };
  let lastRecorded = null;

  maxStatusInput.value = localStorage.getItem("counter.maxStatusMinutes") || String(DEFAULT_MAX_STATUS_MINUTES);
  maxStatusInput.addEventListener("change", () => {
    const minutes = Number.parseInt(maxStatusInput.value, 10);
    if (minutes > 0) localStorage.setItem("counter.maxStatusMinutes", String(minutes));
    else maxStatusInput.value = localStorage.getItem("counter.maxStatusMinutes") || String(DEFAULT_MAX_STATUS_MINUTES);
  });

  /** Seconds of status age past which a VALID verdict turns red (the counter's setting). */
  function maxStatusAge() {
    const minutes = Number.parseInt(maxStatusInput.value, 10);
    return (minutes > 0 ? minutes : DEFAULT_MAX_STATUS_MINUTES) * 60;
  }

  // The verifier's tolerances on this server (GET /pages/verifier-policy): the status lists'
  // ttl, past which status information is overdue for a refresh (amber).
  let verifierPolicy = {};
  const policyLoaded = api("/pages/verifier-policy").then((res) => {
    if (res.ok && res.data) verifierPolicy = res.data;
  });

  // --- who checks: a relying party signed in with its API key, or nobody ----------------------
  // The key lives in this tab's sessionStorage and travels in the Authorization header only.
  // Signed in and naming one of its purposes, a check is listed in the holder's wallet under the
  // party's registered name; anonymous checks verify all the same and are recorded nowhere.
  const PARTY_KEY = "counter.apiKey";
  const PURPOSE_KEY = "counter.purposeCode";
  let party = null; // GET /sharing/me of the signed-in party

  function verifierIdentity() {
    const key = sessionStorage.getItem(PARTY_KEY);
    if (!party || !key || !partyPurpose.value) return null;
    return { key, purpose: partyPurpose.value };
  }

  function showMode() {
    const mode = document.getElementById("counter-mode");
    const identity = verifierIdentity();
    mode.dataset.mode = identity ? "signed-in" : "anonymous";
    mode.className = "mode " + (identity ? "signed-in-mode" : "anonymous-mode");
    if (identity) {
      const purpose = party.purposes.find((p) => p.code === identity.purpose);
      mode.replaceChildren(`已登录：${party.name}，事由：${purpose.text_zh}。核验记入持证人的记录 `,
        el("span", { lang: "en" }, `Signed in as ${party.name} for ${purpose.text_en}: checks are listed for the holder`));
    } else {
      mode.replaceChildren("匿名核验：照常显示结果，不记入持证人的核验记录 ",
        el("span", { lang: "en" }, "Anonymous: checks are shown but not recorded for the holder"));
    }
    document.getElementById("party-sign-in").hidden = Boolean(party);
    document.getElementById("party-signed-in").hidden = !party;
  }

  function partySignedOut(message) {
    sessionStorage.removeItem(PARTY_KEY);
    party = null;
    document.getElementById("party-error").textContent = message || "";
    showMode();
  }

  async function loadParty() {
    const res = await api("/sharing/me", { token: sessionStorage.getItem(PARTY_KEY) });
    if (!res.ok) {
      // An offline counter (the verifier alone) has no relying parties to sign in to.
      return partySignedOut(res.status === 404 || res.status === 405
        ? "此窗口离线核验，不能登录：核验不会记录 This counter verifies offline: no sign-in, nothing is recorded"
        : errorText(res));
    }
    party = res.data;
    partyPurpose.replaceChildren(...party.purposes.map((p) =>
      el("option", { value: p.code }, `${p.text_zh} ${p.text_en}`)));
    const kept = localStorage.getItem(PURPOSE_KEY);
    if (party.purposes.some((p) => p.code === kept)) partyPurpose.value = kept;
    document.getElementById("party-error").textContent = party.purposes.length ? ""
      : "本单位尚未登记用证事由：核验不会记录 This party has no registered purpose: checks are not recorded";
    showMode();
  }

  document.getElementById("party-sign-in").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = document.getElementById("party-key");
    const value = input.value.trim();
    input.value = "";
    if (!value) return;
    sessionStorage.setItem(PARTY_KEY, value);
    await loadParty();
  });
  document.getElementById("party-sign-out").addEventListener("click", () => partySignedOut(""));
  partyPurpose.addEventListener("change", () => {
    localStorage.setItem(PURPOSE_KEY, partyPurpose.value);
    lastRecorded = null;
    showMode();
  });

  function setScanState(zh, en) {
    scanState.replaceChildren(zh + " ", el("span", { lang: "en" }, en));
  }

  /** "fresh", "old" (past the status list's ttl) or "too_old" (past the counter's maximum). */
  function freshnessOf(result) {
    return statusFreshness(result.status_age, verifierPolicy.status_ttl, maxStatusAge());
  }

  /** `recorded`: a signed-in counter's check of this result went through (listed for the holder). */
  function showVerdict(result, recorded) {
    let words = outcomeWords(result.outcome);
    const valid = result.valid === true;
    const freshness = freshnessOf(result);
    const [ageZh, ageEn] = ageWords(result.status_age);
    let icon = valid ? "✓" : "✗";
    verdictBox.className = "verdict " + (valid ? "valid" : "invalid");
    if (valid && freshness === "old") verdictBox.classList.add("status-old");
    if (valid && freshness === "too_old") {
      // Genuine and in date, but whether it was revoked since is not known: not a green VALID.
      verdictBox.classList.add("status-too-old");
      icon = "!";
      words = ["状态信息过旧", "STATUS TOO OLD",
        `证照真实且在有效期内，但吊销状态${ageZh}更新，无法确认未被吊销，请联网同步后再核验`,
        `Genuine and in date, but the revocation status was updated ${ageEn}: it may have been revoked since. Sync the counter, then check again`];
    }
    verdictBox.dataset.outcome = result.outcome || "";
    verdictBox.dataset.freshness = freshness;
    verdictBox.dataset.recorded = recorded ? "true" : "false";
    const children = [
      el("span", { class: "icon", "aria-hidden": "true" }, icon),
      el("span", { class: "word" }, words[0], el("span", { class: "en", lang: "en" }, words[1])),
      el("span", { class: "reason" }, valid ? words[2] : words[2] + "。", " ",
        el("span", { lang: "en" }, valid ? words[3] : words[3] + ".")),
    ];
    if (valid && freshness === "old") {
      const [ttlZh, ttlEn] = durationWords(verifierPolicy.status_ttl);
      children.push(el("span", { class: "freshness old" },
        `状态信息${ageZh}更新，已超过 ${ttlZh} 的更新周期：请尽快同步 `,
        el("span", { lang: "en" }, `Status information updated ${ageEn}, past its ${ttlEn} refresh period: sync soon`)));
    }
    if (valid && freshness === "too_old") {
      const [maxZh, maxEn] = durationWords(maxStatusAge());
      children.push(el("span", { class: "freshness too_old" },
        `状态信息超过本窗口允许的 ${maxZh} `,
        el("span", { lang: "en" }, `Status information older than this counter's limit of ${maxEn}`)));
    }
    if (valid && result.kind === "static") {
      children.push(el("span", { class: "note" },
        "静态副本：不是持证人现场出示的动态码 ",
        el("span", { lang: "en" }, "Static copy: not a live presentation by the holder")));
    }
    if (recorded) {
      children.push(el("span", { class: "recorded" }, "已记入持证人的核验记录 ",
        el("span", { lang: "en" }, "Listed in the holder's wallet")));
    }
    verdictBox.replaceChildren(...children);
    showLicence(result);
  }

  /** Back to "show a licence QR": nothing from an earlier licence stays on screen. */
  function showWaiting() {
    verdictBox.className = "verdict waiting";
    verdictBox.dataset.outcome = "";
    verdictBox.dataset.freshness = "";
    verdictBox.dataset.recorded = "";
    verdictBox.replaceChildren(
      el("span", { class: "icon", "aria-hidden": "true" }, "◷"),
      el("span", { class: "word" }, "请出示二维码", el("span", { class: "en", lang: "en" }, "Show a licence QR code")));
    showLicence({});
    last = { key: null, at: 0 };
  }

  function showLicence(result) {
    const lic = result.licence;
    if (!lic) {
      licenceCard.hidden = true;
      facts.replaceChildren();
      return;
    }
    const department = lic.department_name ? `${lic.department_name} (${lic.department_code})` : lic.department_code;
    const type = lic.type_name ? `${lic.type_name} (${lic.type_code})` : lic.type_code;
    const [ageZh, ageEn] = ageWords(result.status_age);
    const freshness = freshnessOf(result);
    const items = [
      // an SD-JWT VC presentation may leave these undisclosed (null)
      row("持证人", "Holder", lic.holder_name ?? bi("未出示", "not disclosed"), { "data-field": "holder_name" }),
      row("身份证号", "ID number", lic.masked_id ?? bi("未出示", "not disclosed"), { "data-field": "masked_id" }),
      row("证照类型", "Licence type", type, { "data-field": "licence_type" }),
      row("证照编号", "Licence number", lic.number, { "data-field": "number" }),
      row("准驾/类别", "Categories", (lic.categories || []).join(", ") || "—", { "data-field": "categories" }),
      row("有效期", "Valid", `${formatDate(lic.not_before)} – ${formatDate(lic.expires_at)}`, { "data-field": "validity" }),
      row("发证部门", "Issued by", department, { "data-field": "department" }),
      row("状态信息", "Status information",
        result.status_age === null || result.status_age === undefined
          ? "未检查 not checked" : `${ageZh}更新 updated ${ageEn}`,
        { "data-field": "status_age", "data-freshness": freshness, class: `freshness-${freshness}` }),
      row("出示方式", "Presented as",
        result.kind === "presentation" ? "持证人动态码 live holder presentation"
          : result.kind === "static" ? "静态副本 static copy" : "—", { "data-field": "kind" }),
      row("核验时间", "Checked at", formatDateTime(result.checked_at || Date.now() / 1000), {}),
    ];
    facts.replaceChildren(...items.flat());
    licenceCard.hidden = false;
  }

  function resultKey(result) {
    return [result.credential_id, result.presented_at, result.outcome].join("|");
  }

  async function postImage(blob, identity) {
    const form = new FormData();
    form.append("image", blob, "frame.jpg");
    if (identity) form.append("verifier_purpose", identity.purpose);
    const res = await api("/verify", { method: "POST", form, token: identity ? identity.key : null });
    await policyLoaded;
    if (identity && res.status === 401) {
      partySignedOut(errorText(res)); // a revoked key: say so, and go on anonymously
      return null;
    }
    // An image with no QR code in it is the normal case between licences: keep scanning quietly.
    if (!res.ok && res.data && res.data.error === "no_qr_code") return null;
    if (res.status === 404 || res.status === 405) {
      // This server has no verifier: scanning again every 400 ms would not change that.
      if (stream) stopCamera();
      scanError.textContent = "此服务器未提供核验服务 This server offers no verification service";
      return null;
    }
    if (!res.ok || !res.data || typeof res.data.outcome !== "string") {
      scanError.textContent = errorText(res);
      return null;
    }
    scanError.textContent = "";
    return res.data;
  }

  /**
   * Verify one image. Frames are first sent anonymously, so a licence held in front of the
   * camera for a while is recorded in the holder's "who checked" list once per presentation and
   * outcome, not once per frame (and the party's rate limit is not spent on every frame).
   */
  async function verifyImage(blob, { fromCamera }) {
    const identity = verifierIdentity();
    let result = await postImage(blob, fromCamera ? null : identity);
    if (!result) return false;
    const key = resultKey(result);
    const now = Date.now();
    if (fromCamera && key === last.key && now - last.at < REPEAT_QUIET_MS) return true;
    let recorded = Boolean(identity) && !fromCamera;
    if (fromCamera && identity && key !== lastRecorded) {
      const named = await postImage(blob, identity);
      if (named) {
        result = named;
        lastRecorded = key;
      }
    }
    if (fromCamera) recorded = Boolean(identity) && key === lastRecorded;
    last = { key, at: now };
    // Only a licence whose issuer signature verified is listed: a forgery names no holder.
    showVerdict(result, recorded && Boolean(result.licence));
    return true;
  }

  function grabFrame() {
    const width = video.videoWidth;
    const height = video.videoHeight;
    if (!width || !height) return Promise.resolve(null);
    const scale = Math.min(1, MAX_FRAME_WIDTH / width);
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
  }

  async function tick() {
    if (busy || !stream) return;
    busy = true;
    try {
      const blob = await grabFrame();
      if (blob) await verifyImage(blob, { fromCamera: true });
    } finally {
      busy = false;
    }
  }

  async function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      // No camera API at all: a plain-HTTP page on another machine (browsers give the camera to
      // HTTPS and localhost pages only) or an old browser.
      setScanState("此浏览器无法使用摄像头，请上传照片", "This browser has no camera access: upload a photo");
      if (!window.isSecureContext) {
        scanError.textContent = "摄像头只能在 HTTPS 或本机地址的页面中使用 The camera works only on HTTPS or localhost pages";
      }
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: "environment", width: { ideal: 1280 }, height: { ideal: 720 } },
        audio: false,
      });
    } catch (err) {
      stream = null;
      const [zh, en] = cameraErrorWords(err);
      setScanState("摄像头未开启，请上传照片", "Camera off: upload a photo instead");
      scanError.textContent = `${zh} ${en}`;
      scanError.dataset.cameraError = (err && err.name) || "";
      return;
    }
    video.srcObject = stream;
    await video.play().catch(() => {});
    setScanState("正在扫描…", "Scanning…");
    toggle.replaceChildren(...bi("关闭摄像头", "Stop camera"));
    toggle.dataset.state = "on";
    timer = setInterval(tick, SCAN_INTERVAL_MS);
  }

  function stopCamera() {
    clearInterval(timer);
    timer = null;
    if (stream) for (const track of stream.getTracks()) track.stop();
    stream = null;
    video.srcObject = null;
    setScanState("摄像头未开启", "Camera off");
    toggle.replaceChildren(...bi("开启摄像头", "Start camera"));
    toggle.dataset.state = "off";
  }

  toggle.addEventListener("click", () => (stream ? stopCamera() : startCamera()));

  photo.addEventListener("change", async () => {
    const file = photo.files && photo.files[0];
    if (!file) return;
    scanError.textContent = "";
    const found = await verifyImage(file, { fromCamera: false });
    if (!found) {
      showWaiting();
      if (!scanError.textContent) scanError.textContent = "照片中未找到二维码 No QR code found in the photo";
    }
    photo.value = "";
  });

  showMode();
  if (sessionStorage.getItem(PARTY_KEY)) loadParty();
  // A counter scans all day: start at once where the camera is allowed.
  startCamera();
})();
