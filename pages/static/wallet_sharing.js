// The wallet's sharing part (授权用证), apart from wallet.js: requests to use my data (who asks,
// why, which fields of which licences, how long) with approve / refuse; my consents (active,
// used, expired, revoked) with revoke; who used my data (the access log); and 亮证, a one-time
// authorisation QR for the open licence, bound to a party and purpose or claimed by whoever
// scans it within 5 minutes. wallet.js tells it what happens through document events:
// "wallet:signed-in", "wallet:signed-out" and "wallet:licence" (the licence opened).
"use strict";

(() => {
  const { el, bi, api, errorText, formatDateTime, statusWords } = ELICENCE;
  const { fieldText, stateBadge, howLong, words, REQUEST_STATES, CONSENT_STATES, PARTY_KINDS } = SHARING;

  const TOKEN_KEY = "wallet.token"; // wallet.js keeps the citizen's sign-in there
  const BASE = "/wallet/sharing";
  const ANY_PARTY = "";
  const $ = (id) => document.getElementById(id);
  const token = () => sessionStorage.getItem(TOKEN_KEY);
  const call = (path, options = {}) => api(BASE + path, { ...options, token: token() });
  const cards = ["requests-card", "consents-card", "access-card"];

  let licence = null; // the licence open in wallet.js's detail view
  let parties = null; // the register of relying parties, loaded once per sign-in
  let showTimer = null;
  let showUrl = null;
  // Field name -> its licence type's label, learnt from the requests (which carry labels) and
  // the licences opened; consents and the access log name fields only.
  const labels = {};
  const label = (name) => fieldText(name, labels[name]);

  function partyLine(party) {
    const [zh, en] = words(PARTY_KINDS, party.kind);
    return el("strong", { class: "party-name" }, party.name, el("span", { class: "muted" }, ` · ${zh} ${en}`));
  }

  function purposeLine(purpose) {
    return el("span", { class: "purpose-text" }, bi("事由", "Purpose"), "：", purpose.text_zh, " ",
      el("span", { class: "en", lang: "en" }, purpose.text_en));
  }

  // --- requests ---------------------------------------------------------------------------

  function requestItem(request) {
    const pending = request.state === "pending";
    const types = request.licence_types.map((type) => el("li", { "data-licence-type": type.licence_type },
      el("span", {}, type.name || type.licence_type, type.department_name ? ` · ${type.department_name}` : ""),
      el("span", { class: "requested-fields" }, "：", type.fields.map((f) => fieldText(f.name, f.label)).join("、"))));
    const held = request.licences.map((lic) => {
      const [zh, en] = statusWords(lic.status);
      return el("li", {}, bi("证照", "Licence"), ` ${lic.number} · ${zh} ${en}`);
    });
    return el("li", { "data-request-id": request.id, "data-state": request.state },
      el("div", { class: "sharing-head" }, partyLine(request.relying_party), stateBadge(REQUEST_STATES, request.state)),
      purposeLine(request.purpose),
      el("ul", { class: "requested" }, ...types),
      held.length ? el("ul", { class: "held muted" }, ...held)
        : el("span", { class: "muted" }, bi("您没有该类证照", "You hold no licence of these types")),
      el("span", { class: "how-long" }, howLong(request.kind, request.until)),
      pending ? el("span", { class: "muted" }, bi("请在此前答复", "Answer by"), " ", formatDateTime(request.expires_at)) : null,
      pending ? el("div", { class: "actions" },
        el("button", { type: "button", onclick: () => answer(request.id, "approve") }, bi("同意", "Approve")),
        el("button", { type: "button", class: "secondary", onclick: () => answer(request.id, "refuse") }, bi("拒绝", "Refuse")))
        : null);
  }

  async function answer(requestId, verb) {
    const res = await call(`/requests/${encodeURIComponent(requestId)}/${verb}`, { method: "POST" });
    $("requests-error").textContent = res.ok ? "" : errorText(res);
    await refresh();
  }

  // --- consents ---------------------------------------------------------------------------

  function consentItem(consent) {
    const active = consent.state === "active";
    return el("li", { "data-consent-id": consent.id, "data-state": consent.state },
      el("div", { class: "sharing-head" }, partyLine(consent.relying_party), stateBadge(CONSENT_STATES, consent.state)),
      purposeLine(consent.purpose),
      el("span", {}, consent.licence_types.join(", "), "：", consent.fields.map((f) => label(f)).join("、")),
      el("span", { class: "how-long" }, howLong(consent.kind, consent.valid_until)),
      el("span", { class: "muted" }, bi("授权时间", "Granted"), " ", formatDateTime(consent.granted_at),
        consent.used_at ? [" · ", ...bi("使用时间", "Used"), " ", formatDateTime(consent.used_at)] : null,
        consent.revoked_at ? [" · ", ...bi("撤销时间", "Revoked"), " ", formatDateTime(consent.revoked_at)] : null),
      active ? el("div", { class: "actions" },
        el("button", { type: "button", class: "danger", onclick: () => revoke(consent.id) }, bi("撤销授权", "Revoke")))
        : null);
  }

  async function revoke(consentId) {
    const res = await call(`/consents/${encodeURIComponent(consentId)}/revoke`, { method: "POST" });
    $("consents-error").textContent = res.ok ? "" : errorText(res);
    await refresh();
  }

  // --- the access log ---------------------------------------------------------------------

  function accessItem(access) {
    const fetch = access.kind === "fetch";
    const outcome = access.outcome ? ELICENCE.outcomeWords(access.outcome) : null;
    return el("li", { "data-kind": access.kind },
      el("div", { class: "sharing-head" }, partyLine(access.relying_party),
        el("span", { class: "muted" }, formatDateTime(access.at))),
      el("span", { class: "access-kind" }, fetch ? bi("获取了数据", "Fetched data") : bi("核验了证照", "Checked a licence"),
        outcome ? ` · ${outcome[0]} ${outcome[1]}` : ""),
      purposeLine(access.purpose),
      access.fields ? el("span", { class: "access-fields" }, bi("字段", "Fields"), "：",
        access.fields.map((f) => label(f)).join("、")) : null,
      access.licences.length ? el("span", { class: "muted" }, bi("证照", "Licences"), "：", access.licences.join(", ")) : null);
  }

  // --- all three, together ----------------------------------------------------------------

  function fill(listId, emptyId, rows, item) {
    $(emptyId).hidden = rows.length > 0;
    $(listId).replaceChildren(...rows.map(item));
  }

  async function refresh() {
    if (!token()) return;
    const [requests, consents, accesses] = await Promise.all(
      [call("/requests"), call("/consents"), call("/access-log")]);
    if ([requests, consents, accesses].some((r) => r.status === 401)) return; // wallet.js signs out
    for (const id of cards) $(id).hidden = false;
    // Pending requests first (they wait for an answer), then the rest, newest first.
    const rows = requests.ok ? requests.data.requests : [];
    for (const request of rows) {
      for (const type of request.licence_types) {
        for (const field of type.fields) if (field.label) labels[field.name] = field.label;
      }
    }
    rows.sort((a, b) => (a.state === "pending" ? 0 : 1) - (b.state === "pending" ? 0 : 1));
    $("requests-error").textContent = requests.ok ? $("requests-error").textContent : errorText(requests);
    fill("requests-list", "requests-empty", rows, requestItem);
    fill("consents-list", "consents-empty", consents.ok ? consents.data.consents : [], consentItem);
    fill("access-list", "access-empty", accesses.ok ? accesses.data.accesses : [], accessItem);
  }

  // --- 亮证: a one-time authorisation QR for the open licence ------------------------------

  const licenceType = (lic) => `${lic.department_code}/${lic.type_code}`;

  /** The parties with a purpose allowing the open licence's type, and their purposes. */
  function partiesFor(lic) {
    const type = licenceType(lic);
    return (parties || []).map((party) => ({
      ...party, purposes: party.purposes.filter((p) => p.licence_types.includes(type)),
    })).filter((party) => party.purposes.length);
  }

  function showPurposes() {
    const party = partiesFor(licence).find((p) => p.code === $("show-party").value);
    $("show-purpose").disabled = !party;
    $("show-purpose").replaceChildren(...(party ? party.purposes.map((p) =>
      el("option", { value: p.code }, `${p.text_zh} ${p.text_en}`))
      : [el("option", { value: "" }, "由扫码单位选择 Chosen by the party that scans it")]));
  }

  async function openShowCard(lic) {
    licence = lic;
    Object.assign(labels, lic.field_labels || {});
    const card = $("show-card");
    card.hidden = lic.status !== "valid";
    $("show-error").textContent = "";
    if (card.hidden) return;
    if (parties === null) {
      const res = await call("/relying-parties");
      parties = res.ok ? res.data : [];
    }
    $("show-party").replaceChildren(
      el("option", { value: ANY_PARTY }, "任一扫码单位（5 分钟内认领） Any party that scans it (within 5 minutes)"),
      ...partiesFor(lic).map((p) => el("option", { value: p.code }, p.name)));
    showPurposes();
  }

  async function makeShowCode() {
    if (!licence) return;
    const party = $("show-party").value;
    const body = { licence_id: licence.id };
    if (party !== ANY_PARTY) Object.assign(body, { relying_party: party, purpose: $("show-purpose").value });
    const made = await call("/show-tokens", { method: "POST", json: body });
    if (!made.ok) {
      $("show-error").textContent = errorText(made);
      return;
    }
    $("show-error").textContent = "";
    const picture = await fetch(`${BASE}/show-tokens/qr.png`, {
      method: "POST", cache: "no-store",
      headers: { Authorization: "Bearer " + token(), "Content-Type": "application/json" },
      body: JSON.stringify({ token: made.data.token }),
    });
    if (!picture.ok) {
      $("show-error").textContent = "二维码生成失败 Could not make the QR code (" + picture.status + ")";
      return;
    }
    if (showUrl) URL.revokeObjectURL(showUrl);
    showUrl = URL.createObjectURL(await picture.blob());
    const named = parties.find((p) => p.code === party);
    $("show-title").replaceChildren(...bi(licence.type_name, licence.number), " · ",
      ...(named ? [named.name] : bi("任一扫码单位", "any party that scans it")));
    $("show-qr-image").src = showUrl;
    $("show-token").textContent = made.data.token;
    $("show-screen-error").textContent = "";
    $("show-screen").hidden = false;
    document.body.classList.add("qr-open");
    $("show-close").focus();
    const expires = Date.parse(made.data.expires_at);
    const tick = () => {
      const left = Math.max(0, Math.round((expires - Date.now()) / 1000));
      const text = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
      $("show-countdown").replaceChildren(`${text} 后失效 `, el("span", { lang: "en" }, `Expires in ${text}`));
      if (!left) {
        clearInterval(showTimer);
        $("show-qr-image").removeAttribute("src");
        $("show-screen-error").textContent = "授权码已过期，请重新生成 The code has expired: make a new one";
      }
    };
    clearInterval(showTimer);
    tick();
    showTimer = setInterval(tick, 1000);
  }

  function closeShowScreen() {
    clearInterval(showTimer);
    $("show-screen").hidden = true;
    document.body.classList.remove("qr-open");
    $("show-qr-image").removeAttribute("src");
    $("show-token").textContent = "";
    if (showUrl) URL.revokeObjectURL(showUrl);
    showUrl = null;
    refresh(); // a redeemed code is now a used consent and, once fetched, an access
  }

  document.addEventListener("wallet:signed-in", () => {
    licence = null;
    $("show-card").hidden = true;
    refresh();
  });
  document.addEventListener("wallet:licence", (event) => openShowCard(event.detail));
  document.addEventListener("wallet:signed-out", () => {
    if (!$("show-screen").hidden) closeShowScreen();
    licence = null;
    parties = null;
    for (const id of [...cards, "show-card"]) $(id).hidden = true;
    for (const id of ["requests-list", "consents-list", "access-list"]) $(id).replaceChildren();
  });
  $("sharing-refresh").addEventListener("click", refresh);
  $("show-party").addEventListener("change", showPurposes);
  $("show-make").addEventListener("click", makeShowCode);
  $("show-close").addEventListener("click", closeShowScreen);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("show-screen").hidden) closeShowScreen();
  });
})();
