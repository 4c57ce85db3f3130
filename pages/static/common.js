// Shared helpers of the three pages: DOM building without innerHTML, JSON calls to the APIs,
// plain-words text for API errors, camera errors, verification outcomes and statuses (Chinese
// first, then English).
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

  // Error codes the APIs answer with ({"error": code, "detail": message}) in plain words. Codes
  // marked `true` carry a detail that says which field or what state; it is shown after them.
  const ERRORS = {
    // any service
    bad_request: ["请求无效", "The request was not accepted", true],
    invalid_request: ["填写的内容有误", "Some of the input is not valid", true],
    bad_json: ["请求格式错误", "The request could not be read"],
    bad_multipart: ["上传内容无法读取", "The upload could not be read"],
    unsupported_media_type: ["不支持的请求格式", "This kind of request is not supported"],
    too_large: ["内容过大", "Too large to accept"],
    body_too_large: ["内容过大", "Too large to accept"],
    unauthorized: ["未登录或凭据无效", "Not signed in, or the credentials were not accepted"],
    forbidden: ["无权进行此操作", "You are not allowed to do this"],
    not_found: ["未找到", "Not found"],
    method_not_allowed: ["此服务器不提供该操作", "This server does not offer that"],
    conflict: ["与当前状态冲突", "This conflicts with the current state", true],
    rate_limited: ["请求过于频繁，请稍后再试", "Too many requests: try again shortly"],
    internal_error: ["服务器内部错误，请稍后再试", "The server failed: try again later"],
    http_error: ["请求未能完成", "The request could not be completed", true],
    network: ["无法连接服务器", "Cannot reach the server"],
    // issuing
    invalid_id_number: ["身份证号无效", "The ID number is not valid", true],
    missing_field: ["缺少必填项", "A required field is missing", true],
    invalid_field: ["字段内容无效", "A field is not valid", true],
    unknown_field: ["此证照类型没有该字段", "This licence type has no such field", true],
    invalid_category: ["准驾/类别无效", "A category is not allowed for this licence type", true],
    valid_until_in_past: ["截止日期已过", "The end date is in the past"],
    invalid_validity: ["截止日期应晚于生效日期", "The end date must be after the start date"],
    invalid_code: ["编码无效", "The code is not valid", true],
    invalid_credit_code: ["统一社会信用代码无效", "The unified social credit code is not valid", true],
    invalid_licence_identifier: ["证照标识无效", "The licence identifier is not valid", true],
    invalid_prefix: ["密钥前缀无效", "Not a valid API key prefix", true],
    already_holds_valid: ["持证人已持有此类有效证照", "The holder already holds a valid licence of this type", true],
    id_number_in_text: ["文字中不能含身份证号", "Free text must not hold an ID number", true],
    invalid_file: ["文件无法导入", "The file cannot be imported", true],
    invalid_format: ["文件格式与所声明的不符", "The file's format and its declared type disagree", true],
    // sharing (授权用证): relying parties, requests, consents
    unknown_purpose: ["不是本单位登记的用证事由", "Not one of this party's registered purposes", true],
    licence_type_not_allowed: ["该用证事由不允许此类证照", "The purpose does not allow this licence type", true],
    field_not_allowed: ["该用证事由不允许此字段", "The purpose does not allow this field", true],
    unknown_licence_type: ["没有此证照类型", "No such licence type", true],
    until_required: ["长期授权须填写截止时间", "A standing consent needs an end date"],
    until_in_past: ["截止时间已过", "The end date is in the past"],
    consent_too_long: ["授权期限超过用证事由的上限", "Longer than the purpose allows", true],
    request_not_found: ["未找到该用证申请", "No such use request"],
    request_closed: ["该申请已答复或已过期", "The request has been answered or has expired", true],
    consent_not_found: ["未找到该授权", "No such consent"],
    consent_not_active: ["该授权已不在有效期内", "The consent is no longer active", true],
    consent_used: ["一次性授权已使用", "The one-time consent has been used"],
    consent_expired: ["授权已过期", "The consent has expired"],
    consent_revoked: ["公民已撤销此授权", "The citizen has revoked this consent"],
    relying_party_not_found: ["没有该用证单位", "No such relying party", true],
    show_token_not_usable: ["亮证授权码无效、已使用、已过期或不是给本单位的", "The authorisation code is unknown, used, expired or meant for another party"],
    no_root_key: ["平台根密钥未配置", "The platform root key is not set up: run elicence init"],
    // the wallet and its sign-in
    missing_token: ["请先登录", "Please sign in"],
    malformed_token: ["登录凭据无法识别，请重新登录", "The sign-in token cannot be read: sign in again"],
    bad_token_signature: ["登录凭据无效，请重新登录", "The sign-in token is not genuine: sign in again"],
    token_expired: ["登录已过期，请重新登录", "Your sign-in has expired: sign in again"],
    token_not_yet_valid: ["登录凭据尚未生效，请检查设备时间", "The sign-in token is not valid yet: check this device's clock"],
    wrong_issuer: ["登录凭据不是本系统认可的身份提供方签发的", "The sign-in token comes from an identity provider this service does not accept"],
    wrong_audience: ["登录凭据不是为本系统签发的", "The sign-in token was not made for this service"],
    invalid_token_claims: ["登录凭据内容不完整", "The sign-in token lacks what this service needs"],
    sign_in_unavailable: ["暂时无法登录", "Sign-in is not available right now"],
    idp_unreachable: ["无法连接身份提供方，请稍后再试", "The identity provider cannot be reached: try again later"],
    licence_not_found: ["未找到此证照", "No such licence"],
    unusable: ["此证照当前不能出示", "This licence cannot be shown now"],
    holder_key_missing: ["尚未为您生成出示密钥", "No presentation key has been made for you yet"],
    revoked: ["此证照已被吊销", "This licence has been revoked"],
    suspended: ["此证照已被暂停使用", "This licence is suspended"],
    expired: ["此证照已过期", "This licence has expired"],
    // the counter
    no_qr_code: ["图片中未找到二维码", "No QR code found in the picture"],
    bad_image: ["图片无法读取", "The picture cannot be read"],
  };

  /** [zh, en, showDetail] for an API error code; unknown codes read as a generic sentence. */
  function errorWords(code) {
    return ERRORS[code] || null;
  }

  /**
   * A failed API call for people, Chinese then English: the words for its error code (and the
   * server's detail where it names a field or state), never the bare code. Unknown codes get a
   * generic sentence and the detail.
   */
  function errorText(result) {
    const data = result.data || {};
    const detail = typeof data.detail === "string" ? data.detail : "";
    if (result.status === 0) return ERRORS.network.slice(0, 2).join(" ");
    const words = errorWords(data.error);
    if (words) return `${words[0]} ${words[1]}` + (words[2] && detail ? `: ${detail}` : "");
    if (result.status === 401) return ERRORS.unauthorized.slice(0, 2).join(" ");
    if (result.status === 403) return ERRORS.forbidden.slice(0, 2).join(" ");
    if (result.status === 404) return ERRORS.not_found.slice(0, 2).join(" ");
    return `出错了，请稍后再试 Something went wrong (${result.status})` + (detail ? `: ${detail}` : "");
  }

  // Camera errors (DOMException names of getUserMedia) in plain words, with what to do.
  const CAMERA_ERRORS = {
    NotAllowedError: ["未允许使用摄像头：请在浏览器地址栏的权限设置中允许本页使用摄像头，或上传照片",
      "Camera access was refused: allow this page to use the camera in the browser's site settings, or upload a photo"],
    SecurityError: ["浏览器出于安全原因禁止使用摄像头（需要 https 或本机地址），请上传照片",
      "The browser blocks the camera here for security (it needs https or localhost): upload a photo"],
    NotFoundError: ["未找到摄像头：请连接摄像头，或上传照片",
      "No camera was found: connect one, or upload a photo"],
    OverconstrainedError: ["摄像头不支持所需的画面设置，请上传照片",
      "The camera cannot provide the picture needed: upload a photo"],
    NotReadableError: ["摄像头被其他程序占用或出现故障：请关闭其他使用摄像头的程序后重试",
      "The camera is in use by another program or not working: close other programs using it and try again"],
    AbortError: ["摄像头启动被中断，请重试", "Starting the camera was interrupted: try again"],
    TypeError: ["此浏览器无法使用摄像头，请上传照片", "This browser cannot use the camera: upload a photo"],
  };

  /** [zh, en] for an error getUserMedia threw; unknown ones keep their message after the words. */
  function cameraErrorWords(err) {
    const name = err && err.name;
    if (CAMERA_ERRORS[name]) return CAMERA_ERRORS[name];
    const message = String((err && err.message) || err || "");
    return ["无法开启摄像头，请上传照片" + (message ? `（${message}）` : ""),
      "Cannot open the camera: upload a photo instead" + (message ? ` (${message})` : "")];
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
    unknown_division_code: ["无法确认证照标识", "UNKNOWN ISSUER CODE", "信任列表中没有该部门的行政区划代码", "The trust list gives no division code for this department"],
    unknown_issuer: ["未知签发方", "UNKNOWN ISSUER", "此凭证不是本平台签发的", "The credential was not issued by this registry"],
    key_compromised: ["不是真实证照", "NOT GENUINE", "签发密钥已被宣告泄露", "The signing key was declared compromised"],
    key_not_valid: ["不是真实证照", "NOT GENUINE", "签发时密钥不在有效期内", "Signed outside the key's validity window"],
    key_not_allowed: ["不是真实证照", "NOT GENUINE", "该部门无权签发此类证照", "This department may not issue this licence type"],
    bad_signature: ["不是真实证照", "NOT GENUINE", "签名无效，证照可能被篡改", "The signature does not verify: the licence may be forged or altered"],
    untrusted: ["不是真实证照", "NOT GENUINE", "签发者不可信", "The issuer is not trusted"],
    stale_presentation: ["过期截图", "STALE SCREENSHOT", "二维码已过时，请持证人刷新后重新出示", "The QR is old (a screenshot?): ask the holder to show a fresh one"],
    presentation_from_future: ["时间异常", "CLOCK MISMATCH", "出示时间在未来，请检查手机时间", "The presentation is dated in the future: check the phone's clock"],
    holder_signature: ["非持证人出示", "NOT THE HOLDER", "持证人签名无效", "The holder's signature does not verify"],
    challenge_mismatch: ["校验码不符", "CHALLENGE MISMATCH", "二维码不是为本窗口生成的", "The QR was not made for this counter's challenge"],
    disclosure_mismatch: ["不是真实证照", "NOT GENUINE", "披露的内容与签发的内容不符", "A disclosed claim is not one the issuer signed"],
    missing_key_binding: ["需持证人现场出示", "NO HOLDER PROOF", "缺少持证人的绑定签名", "The holder's key-binding proof is missing"],
    sd_hash_mismatch: ["非持证人出示", "NOT THE HOLDER", "持证人签名未覆盖所出示的内容", "The holder's proof does not cover what was shown"],
    wrong_audience: ["校验码不符", "WRONG VERIFIER", "出示内容不是给本窗口的", "The presentation was made for another verifier"],
    presentation_required: ["需持证人现场出示", "PRESENTATION REQUIRED", "不接受打印或静态副本", "A printed or static copy is not accepted here"],
    presentation: ["出示无效", "INVALID PRESENTATION", "持证人出示无效", "The holder's presentation is not valid"],
    status_stale: ["状态信息过旧", "STATUS OUT OF DATE", "吊销状态信息太旧，无法确认", "The revocation status is too old to rely on"],
    status_unavailable: ["无法确认状态", "STATUS UNAVAILABLE", "无法获取吊销状态信息", "No revocation status information is available"],
    unknown_status_list: ["无法确认状态", "UNKNOWN STATUS LIST", "凭证指向的状态列表不属于其签发部门", "The credential points at a status list its issuer does not publish"],
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

  /**
   * How fresh status information of this age is for a counter: "fresh" within the status
   * list's ttl, "old" (amber) past it, "too_old" (red) past the counter's maximum.
   */
  function statusFreshness(age, ttl, maximum) {
    if (age === null || age === undefined) return "unknown";
    if (maximum && age > maximum) return "too_old";
    if (ttl && age > ttl) return "old";
    return "fresh";
  }

  /** A duration in seconds as words: [zh, en] ("90 秒" / "90 s", "2 分钟" / "2 min", ...). */
  function durationWords(seconds) {
    const s = Math.max(0, Math.round(seconds));
    if (s < 120) return [`${s} 秒`, `${s} s`];
    if (s < 7200) return [`${Math.round(s / 60)} 分钟`, `${Math.round(s / 60)} min`];
    return [`${Math.round(s / 3600)} 小时`, `${Math.round(s / 3600)} h`];
  }

  return {
    el, bi, api, errorText, errorWords, cameraErrorWords, outcomeWords, statusWords, formatDate,
    formatDateTime, ageWords, durationWords, statusFreshness, row,
  };
})();
