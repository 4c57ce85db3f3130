// Shared by the pages that deal with sharing (授权用证): the desk, the wallet's requests and
// consents, the signed-in counter. Words for fields, states and kinds (Chinese first, then
// English), the signed data package checked in the browser with the platform root key
// (WebCrypto), and the package drawn as a card.
"use strict";

const SHARING = (() => {
  const { el, bi, api, formatDate, formatDateTime, statusWords } = ELICENCE;

  // The fields every licence has; a licence type's own fields carry their label from the API.
  const CORE_FIELDS = {
    holder_name: ["持证人姓名", "Holder's name"],
    number: ["证照编号", "Licence number"],
    categories: ["准驾/类别", "Categories"],
    valid_from: ["有效期起", "Valid from"],
    valid_until: ["有效期至", "Valid until"],
    issued_at: ["签发日期", "Issued on"],
  };

  /** The words of a field: its licence type's label, else the core words, else its name. */
  function fieldText(name, label) {
    if (label) return label;
    const core = CORE_FIELDS[name];
    return core ? `${core[0]} ${core[1]}` : String(name).replace(/_/g, " ");
  }

  const REQUEST_STATES = {
    pending: ["待公民答复", "Waiting for the citizen"],
    approved: ["已同意", "Approved"],
    refused: ["已拒绝", "Refused"],
    expired: ["已过期未答复", "Expired unanswered"],
  };
  const CONSENT_STATES = {
    active: ["有效", "Active"],
    used: ["已使用", "Used"],
    expired: ["已到期", "Expired"],
    revoked: ["已撤销", "Revoked"],
  };
  const KINDS = { one_time: ["一次性", "One-time"], standing: ["长期", "Standing"] };
  const PARTY_KINDS = {
    department: ["政府部门", "Department"],
    bank: ["银行", "Bank"],
    employer: ["用人单位", "Employer"],
    other: ["其他", "Other"],
  };

  const words = (table, code) => table[code] || [String(code), String(code)];

  /** A badge of a request or consent state (class `state-<state>`, data-state). */
  function stateBadge(table, state) {
    const [zh, en] = words(table, state);
    return el("span", { class: `badge state-${state}`, "data-state": state }, `${zh} ${en}`);
  }

  /** "一次性 One-time" or "长期至 2027-01-31 Standing until 2027-01-31". */
  function howLong(kind, until) {
    if (kind === "standing") return `长期至 ${formatDate(until)} Standing until ${formatDate(until)}`;
    return `一次性（${formatDate(until)} 前） One-time (before ${formatDate(until)})`;
  }

  function b64urlBytes(text) {
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
    const binary = atob(b64);
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  }

  function b64urlJson(text) {
    return JSON.parse(new TextDecoder().decode(b64urlBytes(text)));
  }

  const WEBCRYPTO = {
    ES256: [{ name: "ECDSA", namedCurve: "P-256" }, { name: "ECDSA", hash: "SHA-256" }],
    EdDSA: [{ name: "Ed25519" }, { name: "Ed25519" }],
  };

  /**
   * Check a `licence-data+jwt` against the platform root key (GET /root-key) in this browser.
   * Returns {verified: true, payload, thumbprint} or {verified: false, reason: [zh, en]}; the
   * payload shown is the one inside the checked token, never the server's copy beside it.
   */
  async function verifyPackage(token) {
    const parts = String(token || "").split(".");
    if (parts.length !== 3) return { verified: false, reason: ["数据包格式错误", "The package is malformed"] };
    let header;
    let payload;
    try {
      header = b64urlJson(parts[0]);
      payload = b64urlJson(parts[1]);
    } catch (_) {
      return { verified: false, reason: ["数据包格式错误", "The package is malformed"] };
    }
    if (header.typ !== "licence-data+jwt") {
      return { verified: false, reason: ["不是证照数据包", "Not a licence data package"] };
    }
    const algorithms = WEBCRYPTO[header.alg];
    if (!algorithms || !window.crypto || !crypto.subtle) {
      return { verified: false, payload, reason: [
        `此浏览器无法核验 ${header.alg} 签名（需要 HTTPS 或本机地址）`,
        `This browser cannot check a ${header.alg} signature here (it needs HTTPS or localhost)`] };
    }
    const root = await api("/root-key");
    if (!root.ok || !root.data || !root.data.jwk) {
      return { verified: false, payload, reason: ["无法取得平台根公钥", "The platform root key cannot be fetched"] };
    }
    if (header.kid !== root.data.kid) {
      return { verified: false, reason: ["签名密钥不是平台根密钥", "Not signed by the platform root key"] };
    }
    try {
      const { alg: _alg, use: _use, key_ops: _ops, ...jwk } = root.data.jwk;
      const key = await crypto.subtle.importKey("jwk", jwk, algorithms[0], false, ["verify"]);
      const signed = new TextEncoder().encode(`${parts[0]}.${parts[1]}`);
      const ok = await crypto.subtle.verify(algorithms[1], key, b64urlBytes(parts[2]), signed);
      if (!ok) return { verified: false, reason: ["签名无效，数据可能被篡改", "The signature does not verify: the data may be altered"] };
    } catch (err) {
      return { verified: false, payload, reason: ["无法核验签名", `The signature cannot be checked (${err && err.name})`] };
    }
    return { verified: true, payload, thumbprint: root.data.thumbprint };
  }

  const DATES = new Set(["valid_from", "valid_until", "issued_at"]);

  /** A shared field's value for people: dates as YYYY-MM-DD, lists joined. */
  function shownValue(name, value) {
    if (Array.isArray(value)) return value.join(", ");
    return DATES.has(name) ? formatDate(value) : String(value);
  }

  /**
   * The package as a card: who, why, which consent; each licence with status and fields
   * (`labels`: field name -> the licence type's label, for fields beyond the core ones).
   */
  function packageCard(checked, labels = {}) {
    const p = checked.payload || {};
    const consent = p.consent || {};
    const purpose = p.purpose || {};
    const party = p.relying_party || {};
    const seal = checked.verified
      ? el("p", { class: "message ok", id: "package-signature", "data-verified": "true" },
        "平台签名有效 ", el("span", { lang: "en" }, "Signed by the platform root key"),
        checked.thumbprint ? el("code", { class: "thumbprint" }, ` ${checked.thumbprint}`) : null)
      : el("p", { class: "message error", id: "package-signature", "data-verified": "false" },
        `${checked.reason[0]} `, el("span", { lang: "en" }, checked.reason[1]));
    const facts = el("dl", { class: "facts" },
      ELICENCE.row("用证方", "Relying party", party.name || party.code || "—"),
      ELICENCE.row("用证事由", "Purpose", `${purpose.zh || ""} ${purpose.en || ""}`.trim() || "—",
        { "data-field": "purpose" }),
      ELICENCE.row("授权", "Consent", howLong(consent.kind, consent.until), { "data-field": "consent" }),
      ELICENCE.row("获取时间", "Fetched at", formatDateTime(p.iat)));
    const licences = (p.licences || []).map((lic) => {
      const [zh, en] = statusWords(lic.status);
      const rows = Object.entries(lic.fields || {}).map(([name, value]) => [
        el("dt", {}, fieldText(name, labels[name])),
        el("dd", { "data-field": name }, shownValue(name, value))]);
      return el("article", { class: "result-card shared-licence", "data-licence-type": lic.licence_type },
        el("h3", {}, lic.licence_type_name || lic.licence_type, " ",
          el("span", { class: `badge ${lic.status}`, "data-status": lic.status }, `${zh} ${en}`)),
        el("p", { class: "muted" }, lic.department_name || lic.department || ""),
        el("p", { class: "identifier" }, bi("证照标识", "Identifier"), " ", el("code", {}, lic.identifier || "—")),
        el("dl", { class: "facts" }, ...rows.flat()));
    });
    const none = licences.length ? null
      : el("p", { class: "muted", id: "package-empty" }, bi("公民没有符合授权的证照", "The citizen holds no licence the consent covers"));
    return el("div", { class: "data-package", "data-consent-id": consent.id || "" }, seal, facts, none, ...licences);
  }

  return {
    fieldText, stateBadge, howLong, verifyPackage, packageCard, words,
    REQUEST_STATES, CONSENT_STATES, KINDS, PARTY_KINDS,
  };
})();
