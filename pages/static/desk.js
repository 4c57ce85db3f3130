// Relying-party desk: sign in with the party's API key (kept in this tab's sessionStorage, sent
// in the Authorization header only), ask for a citizen's consent (the ID number goes in the POST
// body, never a URL), follow the requests, fetch the data of an approved consent and check its
// signature here, or redeem a citizen's 亮证 code for a one-time consent and its data.
"use strict";

(() => {
  const { el, bi, api, errorText, formatDateTime } = ELICENCE;
  const { fieldText, stateBadge, howLong, verifyPackage, packageCard, REQUEST_STATES, CONSENT_STATES } = SHARING;

  const KEY = "desk.apiKey";
  // While a request waits for the citizen, its state is asked for this often.
  const POLL_MS = 2000;
  const $ = (id) => document.getElementById(id);

  let profile = null;
  let labels = {};
  let pollTimer = null;

  const apiKey = () => sessionStorage.getItem(KEY);
  const call = (path, options = {}) => api(path, { ...options, token: apiKey() });

  function signedOut(message) {
    sessionStorage.removeItem(KEY);
    clearTimeout(pollTimer);
    profile = null;
    $("sign-in").hidden = false;
    $("workspace").hidden = true;
    $("sign-out").hidden = true;
    $("signed-in").hidden = true;
    $("data-card").hidden = true;
    $("data-package").replaceChildren();
    $("sign-in-error").textContent = message || "";
  }

  async function signIn(event) {
    event.preventDefault();
    const value = $("api-key").value.trim();
    if (!value) {
      $("sign-in-error").textContent = "请输入 API 密钥 Enter the API key";
      return;
    }
    $("api-key").value = "";
    sessionStorage.setItem(KEY, value);
    await loadProfile();
  }

  async function loadProfile() {
    const res = await call("/sharing/me");
    if (!res.ok) {
      if (res.status === 404) return signedOut("此服务器不提供授权用证 This server offers no sharing service");
      return signedOut(errorText(res));
    }
    profile = res.data;
    labels = {};
    for (const purpose of profile.purposes) {
      for (const type of purpose.licence_types) {
        for (const field of type.fields) if (field.label) labels[field.name] = field.label;
      }
    }
    $("sign-in").hidden = true;
    $("sign-in-error").textContent = "";
    $("workspace").hidden = false;
    $("sign-out").hidden = false;
    const [kindZh, kindEn] = SHARING.words(SHARING.PARTY_KINDS, profile.kind);
    $("signed-in").replaceChildren(
      "已登录：", el("strong", { id: "party-name" }, profile.name), `（${profile.code}，${kindZh}） `,
      el("span", { lang: "en" }, `Signed in as ${profile.code} (${kindEn})`));
    $("signed-in").hidden = false;
    for (const select of [$("request-purpose"), $("redeem-purpose")]) {
      select.replaceChildren(...profile.purposes.map((p) =>
        el("option", { value: p.code }, `${p.text_zh} ${p.text_en} (${p.code})`)));
    }
    if (!profile.purposes.length) {
      $("request-error").textContent = "本单位尚未登记用证事由，请联系平台管理员 This party has no registered purpose yet: ask the platform administrator";
    }
    showPurpose();
    await showRequests();
  }

  function chosenPurpose() {
    return profile && profile.purposes.find((p) => p.code === $("request-purpose").value);
  }

  /** The licence types and fields the chosen purpose allows, as checkboxes (all ticked). */
  function showPurpose() {
    const purpose = chosenPurpose();
    const types = purpose ? purpose.licence_types : [];
    $("request-type-boxes").replaceChildren(...types.map((type) => el("label", {},
      el("input", { type: "checkbox", name: "licence_types", value: type.licence_type, checked: true }),
      `${type.name || type.licence_type}${type.department_name ? ` · ${type.department_name}` : ""}`)));
    const fields = purpose ? purpose.fields : [];
    $("request-field-boxes").replaceChildren(...fields.map((name) => el("label", {},
      el("input", { type: "checkbox", name: "fields", value: name, checked: true }),
      fieldText(name, labels[name]))));
    const until = $("request-until");
    if (purpose) {
      const day = (offset) => new Date(Date.now() + offset * 86400000).toISOString().slice(0, 10);
      until.min = day(1);
      until.max = day(purpose.max_days);
      $("request-until-hint").replaceChildren(
        `该事由最长授权 ${purpose.max_days} 天 `,
        el("span", { lang: "en" }, `This purpose allows at most ${purpose.max_days} days`));
    }
  }

  function ticked(name) {
    return [...document.querySelectorAll(`#request-form input[name=${name}]:checked`)].map((i) => i.value);
  }

  function showKind() {
    const standing = $("kind-standing").checked;
    $("request-until").disabled = !standing;
    if (!standing) $("request-until").value = "";
  }

  async function sendRequest(event) {
    event.preventDefault();
    const idInput = $("request-id-number");
    const idNumber = idInput.value.trim().toUpperCase();
    $("request-id-number-error").textContent = "";
    $("request-form-error").textContent = "";
    $("request-error").textContent = "";
    $("request-sent").textContent = "";
    idInput.removeAttribute("aria-invalid");
    if (!/^\d{17}[\dX]$/.test(idNumber)) {
      $("request-id-number-error").textContent = "请输入 18 位身份证号 Enter the 18-character ID number";
      idInput.setAttribute("aria-invalid", "true");
      idInput.focus();
      return;
    }
    const body = {
      id_number: idNumber,
      purpose: $("request-purpose").value,
      licence_types: ticked("licence_types"),
      fields: ticked("fields"),
      kind: $("kind-standing").checked ? "standing" : "one_time",
    };
    if (!body.licence_types.length || !body.fields.length) {
      $("request-form-error").textContent = "请至少选择一种证照和一个字段 Tick at least one licence type and one field";
      return;
    }
    if (body.kind === "standing") {
      const date = $("request-until").value;
      if (!date) {
        $("request-form-error").textContent = "长期授权需填写截止日期 A standing consent needs an end date";
        return;
      }
      body.until = new Date(`${date}T00:00:00`).toISOString(); // the start of that day, here
    }
    const res = await call("/sharing/requests", { method: "POST", json: body });
    if (res.status === 401) return signedOut(errorText(res));
    if (!res.ok) {
      if (res.data && res.data.error === "invalid_id_number") {
        $("request-id-number-error").textContent = errorText(res);
        idInput.setAttribute("aria-invalid", "true");
      } else {
        $("request-error").textContent = errorText(res);
      }
      return;
    }
    idInput.value = "";
    $("request-sent").replaceChildren("申请已发送，等待公民在钱包中答复 ",
      el("span", { lang: "en" }, "Request sent: the citizen answers in their wallet"));
    await showRequests();
  }

  async function showRequests() {
    clearTimeout(pollTimer);
    const [requests, consents] = await Promise.all([call("/sharing/requests"), call("/sharing/consents")]);
    if (requests.status === 401) return signedOut(errorText(requests));
    $("requests-error").textContent = requests.ok ? "" : errorText(requests);
    const byRequest = {};
    for (const consent of consents.ok ? consents.data : []) byRequest[consent.request_id] = consent;
    const rows = requests.ok ? requests.data : [];
    $("requests-empty").hidden = rows.length > 0;
    $("requests-list").replaceChildren(...rows.map((request) => requestItem(request, byRequest[request.id])));
    if (rows.some((r) => r.state === "pending") && apiKey()) pollTimer = setTimeout(showRequests, POLL_MS);
  }

  function requestItem(request, consent) {
    const fetchable = consent && consent.state === "active";
    return el("li", { "data-request-id": request.id, "data-state": request.state },
      el("div", { class: "sharing-head" },
        el("strong", {}, request.purpose.text_zh, " ", el("span", { class: "en", lang: "en" }, request.purpose.text_en)),
        stateBadge(REQUEST_STATES, request.state)),
      el("span", { class: "muted" }, request.licence_types.join(", "), " · ",
        request.fields.map((f) => fieldText(f, labels[f])).join("、")),
      el("span", { class: "muted" }, howLong(request.kind, request.until)),
      el("span", { class: "muted" }, bi("申请时间", "Asked"), " ", formatDateTime(request.created_at),
        request.state === "pending" ? [" · ", ...bi("答复截止", "Answer by"), " ", formatDateTime(request.expires_at)] : null),
      consent ? el("span", { class: "consent-line" }, bi("授权", "Consent"), " ",
        stateBadge(CONSENT_STATES, consent.state)) : null,
      consent ? el("div", { class: "actions" },
        el("button", { type: "button", class: fetchable ? "" : "secondary", "data-consent-id": consent.id,
          onclick: () => fetchData(consent.id) }, bi("获取数据", "Fetch data"))) : null);
  }

  async function fetchData(consentId) {
    $("data-card").hidden = false;
    $("data-error").textContent = "";
    const res = await call(`/sharing/consents/${encodeURIComponent(consentId)}/data`);
    if (res.status === 401) return signedOut(errorText(res));
    if (!res.ok) {
      $("data-package").replaceChildren();
      $("data-error").textContent = errorText(res);
      $("data-error").dataset.error = (res.data && res.data.error) || "";
      $("data-card").scrollIntoView({ block: "nearest" });
      await showRequests();
      return;
    }
    $("data-error").dataset.error = "";
    const checked = await verifyPackage(res.data.package);
    $("data-package").replaceChildren(packageCard(checked, labels));
    $("data-card").scrollIntoView({ block: "nearest" });
    await showRequests();
  }

  async function redeem(event) {
    event.preventDefault();
    $("redeem-error").textContent = "";
    const token = $("redeem-token").value.trim();
    if (!token) {
      $("redeem-error").textContent = "请扫描或粘贴授权码 Scan or paste the authorisation code";
      return;
    }
    const res = await call("/sharing/show-tokens/redeem", {
      method: "POST", json: { token, purpose: $("redeem-purpose").value },
    });
    if (res.status === 401) return signedOut(errorText(res));
    if (!res.ok) {
      $("redeem-error").textContent = errorText(res);
      return;
    }
    $("redeem-token").value = "";
    await fetchData(res.data.id);
  }

  $("sign-in-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", () => signedOut(""));
  $("request-purpose").addEventListener("change", showPurpose);
  $("kind-one-time").addEventListener("change", showKind);
  $("kind-standing").addEventListener("change", showKind);
  $("request-form").addEventListener("submit", sendRequest);
  $("redeem-form").addEventListener("submit", redeem);
  $("refresh-requests").addEventListener("click", showRequests);
  if (apiKey()) loadProfile();
})();
