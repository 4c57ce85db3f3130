// Citizen wallet page: sign in, list every licence issued to my ID number, show one as a rotating
// QR code full-screen with a countdown, and see who checked it.
"use strict";

(() => {
  const { el, bi, api, errorText, outcomeWords, statusWords, formatDate, formatDateTime, row } = ELICENCE;

  const TOKEN_KEY = "wallet.token";
  // Fetch the next code this many seconds before the current one expires.
  const REFRESH_BEFORE_S = 5;
  const PATHS = {
    devToken: "/wallet/dev/token",
    licences: "/wallet/licences",
  };

  const $ = (id) => document.getElementById(id);
  const signInCard = $("sign-in");
  const signOut = $("sign-out");
  const licencesCard = $("licences-card");
  const list = $("licences");
  const detailCard = $("detail-card");
  const qrScreen = $("qr-screen");
  const qrImage = $("qr-image");
  const countdownText = $("countdown-text");
  const countdownBar = $("countdown-bar");
  const qrDownload = $("qr-download");

  let current = null; // the licence open in the detail view
  let qrTimer = null;
  let qrExpiresAt = 0;
  let qrObjectUrl = null;
  let qrGeneration = 0;

  const token = () => sessionStorage.getItem(TOKEN_KEY);

  function listOf(data, key) {
    if (Array.isArray(data)) return data;
    if (data && Array.isArray(data[key])) return data[key];
    if (data && Array.isArray(data.items)) return data.items;
    return [];
  }

  function toEpoch(value) {
    if (typeof value === "number") return value;
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? null : ms / 1000;
  }

  async function signInWithIdNumber(event) {
    event.preventDefault();
    const input = $("dev-id-number");
    const error = $("dev-id-number-error");
    const idNumber = input.value.trim().toUpperCase();
    error.textContent = "";
    input.removeAttribute("aria-invalid");
    $("sign-in-error").textContent = "";
    if (!/^\d{17}[\dX]$/.test(idNumber)) {
      error.textContent = "请输入 18 位身份证号 Enter the 18-character ID number";
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    // The ID number goes in the POST body, never in a URL.
    const form = new FormData();
    form.append("id_number", idNumber);
    const res = await api(PATHS.devToken, { method: "POST", form });
    const tokenText = res.data && (res.data.token || res.data.access_token);
    if (!res.ok || !tokenText) {
      if (res.status === 422) {
        error.textContent = errorText(res);
        input.setAttribute("aria-invalid", "true");
      } else if (res.status === 404) {
        $("sign-in-error").textContent = "开发模式登录未开启 Development sign-in is not enabled here";
      } else {
        $("sign-in-error").textContent = errorText(res);
      }
      return;
    }
    input.value = "";
    sessionStorage.setItem(TOKEN_KEY, tokenText);
    await showLicences();
  }

  async function signInWithToken(event) {
    event.preventDefault();
    const value = $("token-text").value.trim();
    if (!value) return;
    $("token-text").value = "";
    sessionStorage.setItem(TOKEN_KEY, value);
    await showLicences();
  }

  function signedOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    closeQr();
    current = null;
    signInCard.hidden = false;
    licencesCard.hidden = true;
    detailCard.hidden = true;
    signOut.hidden = true;
    $("sign-in-error").textContent = message || "";
    document.dispatchEvent(new CustomEvent("wallet:signed-out")); // wallet_sharing.js
  }

  function badge(status) {
    const [zh, en] = statusWords(status);
    return el("span", { class: "badge " + status, "data-status": status }, `${zh} ${en}`);
  }

  async function showLicences() {
    const res = await api(PATHS.licences, { token: token() });
    if (res.status === 401) return signedOut("登录已失效，请重新登录 Your sign-in has expired: sign in again");
    signInCard.hidden = true;
    signOut.hidden = false;
    licencesCard.hidden = false;
    detailCard.hidden = true;
    $("licences-error").textContent = res.ok ? "" : errorText(res);
    document.dispatchEvent(new CustomEvent("wallet:signed-in")); // wallet_sharing.js
    const licences = listOf(res.data, "licences");
    $("licences-empty").hidden = licences.length > 0;
    list.replaceChildren(...licences.map((lic) => el("li", {},
      el("button", { type: "button", class: "licence", "data-licence-id": lic.id, onclick: () => openLicence(lic.id) },
        el("strong", { class: "licence-type" }, lic.type_name || lic.licence_type || lic.type_code || ""),
        el("span", { class: "licence-number" }, lic.number || ""),
        el("span", { class: "muted" }, lic.department_name || lic.department || lic.department_code || ""),
        el("span", { class: "muted" }, `${formatDate(lic.valid_from)} – ${formatDate(lic.valid_until)}`),
        badge(lic.status)))));
  }

  async function openLicence(id) {
    const res = await api(`${PATHS.licences}/${encodeURIComponent(id)}`, { token: token() });
    if (res.status === 401) return signedOut("登录已失效，请重新登录 Your sign-in has expired: sign in again");
    if (!res.ok) {
      $("licences-error").textContent = errorText(res);
      return;
    }
    const lic = res.data;
    current = lic;
    document.dispatchEvent(new CustomEvent("wallet:licence", { detail: lic })); // wallet_sharing.js
    licencesCard.hidden = true;
    detailCard.hidden = false;
    $("detail-error").textContent = "";
    const labels = lic.field_labels || {};
    const fields = Object.entries(lic.fields || {}).map(([name, value]) => row(labels[name] || fieldName(name), "", String(value)));
    $("detail-facts").replaceChildren(...[
      row("证照类型", "Licence type", lic.licence_type_name || lic.type_name || lic.licence_type),
      row("证照编号", "Licence number", lic.number),
      row("持证人", "Holder", lic.holder_name),
      row("身份证号", "ID number", lic.id_number || lic.masked_id),
      row("准驾/类别", "Categories", (lic.categories || []).join(", ") || "—"),
      row("有效期", "Valid", `${formatDate(lic.valid_from)} – ${formatDate(lic.valid_until)}`),
      row("发证部门", "Issued by", lic.department_name || lic.department),
      row("状态", "Status", badge(lic.status)),
      ...fields,
    ].flat());
    const usable = lic.status === "valid";
    $("show-qr").disabled = !usable;
    $("add-to-wallet").disabled = !usable;
    if (!usable) {
      const [zh, en] = statusWords(lic.status);
      $("detail-error").textContent = `此证照${zh}，不能出示 This licence is ${en.toLowerCase()} and cannot be shown`;
    }
    await showChecks(lic.id);
  }

  /** "first_issued" as "First issued": the wallet API gives field names, not their labels. */
  function fieldName(name) {
    const words = String(name).replace(/_/g, " ");
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  async function showChecks(id) {
    const res = await api(`${PATHS.licences}/${encodeURIComponent(id)}/checks`, { token: token() });
    const checks = res.ok ? listOf(res.data, "checks") : [];
    $("checks-empty").hidden = checks.length > 0;
    $("checks-list").hidden = checks.length === 0;
    $("checks-list").replaceChildren(...checks.map((check) => {
      const words = outcomeWords(check.outcome);
      const valid = check.outcome === "valid";
      return el("li", { class: valid ? "valid" : "invalid", "data-outcome": check.outcome },
        el("span", { class: "check-outcome" }, `${valid ? "✓" : "✗"} ${words[0]} ${words[1]}`),
        el("span", { class: "check-time" }, formatDateTime(check.checked_at)),
        el("span", { class: "check-verifier" }, check.verifier || ""),
        check.purpose ? el("span", { class: "check-purpose" }, bi("目的", "Purpose"), "：", check.purpose) : null);
    }));
  }

  async function fetchQr() {
    const generation = ++qrGeneration;
    const base = `${PATHS.licences}/${encodeURIComponent(current.id)}`;
    // One request per refresh: the image carries its presentation's times in its headers (the
    // page used to ask for the presentation as JSON first, which signed a second one).
    const res = await api(`${base}/qr.png?${freshQuery()}`, { token: token() });
    if (generation !== qrGeneration) return;
    if (!res.ok) {
      $("qr-error").textContent = res.status === 409
        ? "此证照当前不能出示 This licence cannot be shown now: " + errorText(res) : errorText(res);
      stopCountdown();
      return;
    }
    const blob = await res.response.blob();
    if (generation !== qrGeneration) return;
    if (qrObjectUrl) URL.revokeObjectURL(qrObjectUrl);
    qrObjectUrl = URL.createObjectURL(blob);
    qrImage.src = qrObjectUrl;
    qrDownload.href = qrObjectUrl;
    qrDownload.hidden = false;
    $("qr-error").textContent = "";
    const expires = toEpoch(Number(res.headers.get("X-Presentation-Expires")) || null);
    const issued = toEpoch(Number(res.headers.get("X-Presentation-Presented-At")) || null)
      || Date.now() / 1000;
    qrExpiresAt = expires || Date.now() / 1000 + 30;
    countdownBar.max = Math.max(1, Math.round(qrExpiresAt - issued));
    qrImage.dataset.expiresAt = String(qrExpiresAt);
  }

  function freshQuery() {
    // Nothing personal goes in the URL: only a cache-buster so each refresh is a new image.
    return new URLSearchParams({ t: String(Date.now()) }).toString();
  }

  function tickCountdown() {
    const left = Math.max(0, Math.round(qrExpiresAt - Date.now() / 1000));
    countdownText.replaceChildren(`${left} 秒后刷新 `, el("span", { lang: "en" }, `Refreshes in ${left} s`));
    countdownBar.value = left;
    if (qrExpiresAt && left <= REFRESH_BEFORE_S) {
      qrExpiresAt = Date.now() / 1000 + 60; // hold off until the new code arrives
      fetchQr();
    }
  }

  function stopCountdown() {
    clearInterval(qrTimer);
    qrTimer = null;
  }

  async function openQr() {
    if (!current) return;
    $("qr-title").replaceChildren(...bi(
      current.licence_type_name || current.type_name || current.licence_type || "证照", current.number || ""));
    qrScreen.hidden = false;
    document.body.classList.add("qr-open");
    $("qr-close").focus();
    qrExpiresAt = 0;
    await fetchQr();
    stopCountdown();
    tickCountdown();
    qrTimer = setInterval(tickCountdown, 1000);
  }

  /**
   * "Add to another wallet": an OpenID4VCI credential offer of this licence. The other app scans
   * the QR code (the offer URI, with a one-time code and no ID number); the transaction code is
   * shown here only, for the citizen to type into that app.
   */
  async function openOffer() {
    if (!current) return;
    const res = await api(`${PATHS.licences}/${encodeURIComponent(current.id)}/credential-offer`,
      { method: "POST", token: token() });
    if (res.status === 401) return signedOut("登录已失效，请重新登录 Your sign-in has expired: sign in again");
    if (!res.ok || !res.data) {
      $("detail-error").textContent = errorText(res);
      return;
    }
    const offer = res.data;
    $("offer-image").src = offer.qr_png;
    $("offer-image").dataset.offerUri = offer.credential_offer_uri;
    $("offer-tx-code").textContent = offer.tx_code;
    $("offer-expires").replaceChildren(`${formatDateTime(offer.expires_at)} 前有效 `,
      el("span", { lang: "en" }, `Valid until ${formatDateTime(offer.expires_at)}`));
    $("offer-screen").hidden = false;
    document.body.classList.add("qr-open");
    $("offer-close").focus();
  }

  function closeOffer() {
    $("offer-screen").hidden = true;
    document.body.classList.remove("qr-open");
    $("offer-image").removeAttribute("src");
    $("offer-tx-code").textContent = "";
  }

  function closeQr() {
    stopCountdown();
    qrGeneration++;
    qrScreen.hidden = true;
    document.body.classList.remove("qr-open");
    qrImage.removeAttribute("src");
    qrDownload.hidden = true;
    qrDownload.removeAttribute("href");
    if (qrObjectUrl) URL.revokeObjectURL(qrObjectUrl);
    qrObjectUrl = null;
    // The licence may have changed meanwhile (revoked, suspended) and been checked: reload it.
    if (current) openLicence(current.id);
  }

  $("dev-sign-in").addEventListener("submit", signInWithIdNumber);
  $("token-sign-in").addEventListener("submit", signInWithToken);
  $("show-qr").addEventListener("click", openQr);
  $("qr-close").addEventListener("click", closeQr);
  $("add-to-wallet").addEventListener("click", openOffer);
  $("offer-close").addEventListener("click", closeOffer);
  $("back").addEventListener("click", () => { current = null; showLicences(); });
  signOut.addEventListener("click", () => signedOut(""));
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    if (!qrScreen.hidden) closeQr();
    if (!$("offer-screen").hidden) closeOffer();
  });

  /**
   * Say how long a screenshot (or a downloaded code) keeps working: as long as the verifier on
   * this server accepts a presentation after it was made (GET /pages/verifier-policy).
   */
  async function showScreenshotTolerance() {
    const res = await api("/pages/verifier-policy");
    const seconds = res.ok && res.data && res.data.max_presentation_age;
    if (!seconds) return;
    $("screenshot-hint").dataset.seconds = String(seconds);
    $("screenshot-hint").replaceChildren(
      `二维码会自动刷新。截图或下载的二维码在生成后 ${seconds} 秒内仍可核验，之后核验窗口会显示“过期截图”。 `,
      el("span", { lang: "en" },
        `The code refreshes by itself. A screenshot or downloaded code still verifies for ${seconds} s after it was made; after that counters refuse it as a stale screenshot.`));
  }

  showScreenshotTolerance();
  if (token()) showLicences();
})();
