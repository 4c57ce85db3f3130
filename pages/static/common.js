// Shared helpers of the three pages: DOM building without innerHTML, JSON calls to the APIs,
// plain-words text for verification outcomes and statuses (Chinese first, then English).
"use strict";

const ELICENCE = (() => {
  /** Build an element: el("p", {class: "x"}, "text", child). Text is never parsed as HTML. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  /** A bilingual label: Chinese, then English in a smaller span. */
  function bi(zh, en) {
    return [el("span", { lang: "zh-CN" }, zh), " ", el("span", { class: "en", lang: "en" }, en)];
  }

  /**
   * Call an API. Returns {ok, status, data, headers}; data is the parsed JSON body (or null).
   * `json` sends a JSON body; `form` sends FormData; `token` goes in Authorization: Bearer.
   */
  async function api(path, { method = "GET", json, form, token, accept } = {}) {
    const headers = {};
    if (token) headers.Authorization = "Bearer " + token;
    if (accept) headers.Accept = accept;
    let body;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    } else if (form !== undefined) {
      body = form;
    }
    let response;
    try {
      response = await fetch(path, { method, headers, body, cache: "no-store" });
    } catch (err) {
      return { ok: false, status: 0, data: { error: "network", detail: String(err) }, headers: null };
    }
    let data = null;
    const type = response.headers.get("Content-Type") || "";
    if (type.includes("json")) {
      try { data = await response.json(); } catch (_) { data = null; }
    }
    return { ok: response.ok, status: response.status, data, headers: response.headers, response };
  }

  /** The error code and message of a failed API call, for people. */
  function errorText(result) {
    const data = result.data || {};
    if (result.status === 0) return "无法连接服务器 Cannot reach the server";
    if (result.status === 401) return "未登录或凭据无效 Not signed in or credentials not accepted";
    if (result.status === 403) return "无权操作 Not allowed";
    if (result.status === 404) return "未找到 Not found";
    const detail = typeof data.detail === "string" ? data.detail : "";
    return [data.error, detail].filter(Boolean).join(": ") || "出错了 Something went wrong (" + result.status + ")";
  }

  // Verification outcome codes (credential.errors) in plain words.
  const OUTCOMES = {
    valid: ["有效", "VALID", "证照真实、在有效期内且未被吊销", "Genuine, in date and not revoked"],
    revoked: ["已吊销", "REVOKED", "发证部门已吊销此证照", "The issuing department has revoked this licence"],
    suspended: ["已暂停", "SUSPENDED", "此证照目前被暂停使用", "This licence is suspended for now"],
    expired: ["已过期", "EXPIRED", "证照已超过有效期", "The licence is past its validity date"],
    not_yet_valid: ["尚未生效", "NOT YET VALID", "证照尚未到生效日期", "The licence is not valid yet"],
    validity: ["不在有效期内", "OUT OF DATE", "证照不在有效期内", "The licence is outside its validity period"],
    unknown_kid: ["未知发证部门", "UNKNOWN DEPARTMENT", "签发者不在信任列表中", "The issuer is not on the trust list"],
    key_compromised: ["不是真实证照", "NOT GENUINE", "签发密钥已被宣告泄露", "The signing key was declared compromised"],
    key_not_valid: ["不是真实证照", "NOT GENUINE", "签发时密钥不在有效期内", "Signed outside the key's validity window"],
    key_not_allowed: ["不是真实证照", "NOT GENUINE", "该部门无权签发此类证照", "This department may not issue this licence type"],
    bad_signature: ["不是真实证照", "NOT GENUINE", "签名无效，证照可能被篡改", "The signature does not verify: the licence may be forged or altered"],
    untrusted: ["不是真实证照", "NOT GENUINE", "签发者不可信", "The issuer is not trusted"],
    stale_presentation: ["过期截图", "STALE SCREENSHOT", "二维码已过时，请持证人刷新后重新出示", "The QR is old (a screenshot?): ask the holder to show a fresh one"],
    presentation_from_future: ["时间异常", "CLOCK MISMATCH", "出示时间在未来，请检查手机时间", "The presentation is dated in the future: check the phone's clock"],
    holder_signature: ["非持证人出示", "NOT THE HOLDER", "持证人签名无效", "The holder's signature does not verify"],
    challenge_mismatch: ["校验码不符", "CHALLENGE MISMATCH", "二维码不是为本窗口生成的", "The QR was not made for this counter's challenge"],
    presentation_required: ["需持证人现场出示", "PRESENTATION REQUIRED", "不接受打印或静态副本", "A printed or static copy is not accepted here"],
    presentation: ["出示无效", "INVALID PRESENTATION", "持证人出示无效", "The holder's presentation is not valid"],
    status_stale: ["状态信息过旧", "STATUS OUT OF DATE", "吊销状态信息太旧，无法确认", "The revocation status is too old to rely on"],
    status_unavailable: ["无法确认状态", "STATUS UNAVAILABLE", "无法获取吊销状态信息", "No revocation status information is available"],
    status: ["状态不允许使用", "NOT USABLE", "证照状态不允许使用", "The licence's status does not allow use"],
  };
  const UNREADABLE = ["无法识别", "NOT A LICENCE QR", "二维码不是电子证照或已损坏", "The QR is not an e-licence or is damaged"];

  /** [zh, en, zh reason, en reason] for an outcome code. Unknown codes read as "not readable". */
  function outcomeWords(code) {
    return OUTCOMES[code] || UNREADABLE;
  }

  const STATUSES = {
    valid: ["有效", "Valid"],
    revoked: ["已吊销", "Revoked"],
    suspended: ["已暂停", "Suspended"],
    expired: ["已过期", "Expired"],
  };

  /** [zh, en] of a licence status. */
  function statusWords(status) {
    return STATUSES[status] || [String(status), String(status)];
  }

  /** A date (ISO text or seconds since the epoch) as YYYY-MM-DD. */
  function formatDate(value) {
    if (value === null || value === undefined || value === "") return "—";
    const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
    if (Number.isNaN(date.getTime())) return String(value);
    const pad = (n) => String(n).padStart(2, "0");
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  }

  /** A date and time (ISO text or epoch seconds) as YYYY-MM-DD HH:MM:SS local time. */
  function formatDateTime(value) {
    if (value === null || value === undefined || value === "") return "—";
    const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
    if (Number.isNaN(date.getTime())) return String(value);
    const pad = (n) => String(n).padStart(2, "0");
    return `${formatDate(value)} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  }

  /** An age in seconds as words: [zh, en]. */
  function ageWords(seconds) {
    if (seconds === null || seconds === undefined) return ["未知", "unknown"];
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return [`${s} 秒前`, `${s} s ago`];
    if (s < 3600) return [`${Math.floor(s / 60)} 分钟前`, `${Math.floor(s / 60)} min ago`];
    if (s < 86400) return [`${Math.floor(s / 3600)} 小时前`, `${Math.floor(s / 3600)} h ago`];
    return [`${Math.floor(s / 86400)} 天前`, `${Math.floor(s / 86400)} days ago`];
  }

  /** A definition-list row. */
  function row(zh, en, value, attrs) {
    return [el("dt", {}, bi(zh, en)), el("dd", attrs || {}, value)];
  }

  return { el, bi, api, errorText, outcomeWords, statusWords, formatDate, formatDateTime, ageWords, row };
})();
