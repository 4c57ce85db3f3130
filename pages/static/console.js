// Department console: sign in with the department API key (kept in sessionStorage, sent as
// Bearer), issue a licence from a form built from the licence type's fields, find licences by
// ID number, and revoke, suspend or reinstate them with a reason.
"use strict";

(() => {
  const { el, bi, api, errorText, errorWords, statusWords, formatDate } = ELICENCE;

  const KEY = "console.apiKey";
  const PATHS = {
    types: "/issuer/licence-types",
    licences: "/issuer/licences",
    search: "/issuer/licences/search",
  };
  // Reason codes the issuer accepts for each act, in plain words.
  const REASONS = {
    revoke: [
      ["holder_request", "持证人申请", "Holder's request"],
      ["fraud", "欺诈", "Fraud"],
      ["issued_in_error", "错误签发", "Issued in error"],
      ["superseded", "已被替代", "Superseded"],
      ["deceased", "持证人死亡", "Holder deceased"],
      ["court_order", "法院命令", "Court order"],
      ["other", "其他", "Other"],
    ],
    suspend: [
      ["investigation", "调查中", "Under investigation"],
      ["unpaid_fee", "未缴费", "Unpaid fee"],
      ["holder_request", "持证人申请", "Holder's request"],
      ["court_order", "法院命令", "Court order"],
      ["other", "其他", "Other"],
    ],
    reinstate: [
      ["investigation_closed", "调查结束", "Investigation closed"],
      ["fee_paid", "已缴费", "Fee paid"],
      ["issued_in_error", "暂停有误", "Suspended in error"],
      ["other", "其他", "Other"],
    ],
  };
  const ACTS = {
    revoke: ["吊销", "Revoke", "danger"],
    suspend: ["暂停", "Suspend", "warn"],
    reinstate: ["恢复", "Reinstate", "secondary"],
  };

  const $ = (id) => document.getElementById(id);
  let types = [];

  const apiKey = () => sessionStorage.getItem(KEY);

  function listOf(data, key) {
    if (Array.isArray(data)) return data;
    if (data && Array.isArray(data[key])) return data[key];
    if (data && Array.isArray(data.items)) return data.items;
    return [];
  }

  // --- field errors ---------------------------------------------------------------------------
  function clearErrors(form) {
    for (const node of form.querySelectorAll(".field-error")) node.textContent = "";
    for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  }

  function fieldError(form, name, message) {
    const box = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
    if (!box) return false;
    box.textContent = message;
    const input = form.querySelector(`[data-field="${CSS.escape(name)}"]`) || (box.id && document.querySelector(`[aria-describedby~="${box.id}"]`));
    if (input) input.setAttribute("aria-invalid", "true");
    return true;
  }

  // Issuer error codes that name one field of the issue form.
  const ERROR_FIELDS = {
    invalid_id_number: "id_number",
    invalid_category: "categories",
    valid_until_in_past: "valid_until",
    invalid_validity: "valid_until",
  };

  /**
   * [field, message] pairs an API error points at: the issuer's codes (missing_field,
   * invalid_field and unknown_field name the field in the detail), "loc: message" lists from
   * request validation, or FastAPI `loc` arrays.
   */
  function serverFieldErrors(data) {
    const found = [];
    if (!data) return found;
    const detail = typeof data.detail === "string" ? data.detail : "";
    // The words for the code first (Chinese, English), then the server's own sentence.
    const words = errorWords(data.error);
    const said = (message) => (words ? `${words[0]} ${words[1]}: ${message}` : message);
    const push = (loc, message) => {
      const parts = (Array.isArray(loc) ? loc : String(loc).split(".")).map(String).filter((p) => p !== "body");
      if (parts.length) found.push([parts.join("."), said(message)]);
    };
    if (ERROR_FIELDS[data.error]) push(ERROR_FIELDS[data.error], detail);
    if (["missing_field", "invalid_field", "unknown_field"].includes(data.error)) {
      for (const match of detail.matchAll(/'([a-z][a-z0-9_]*)'/g)) push(["fields", match[1]], detail);
      const unknown = detail.match(/:\s*([a-z0-9_, ]+)$/);
      if (data.error === "unknown_field" && unknown) {
        for (const name of unknown[1].split(",")) push(["fields", name.trim()], detail);
      }
    }
    if (data.error === "invalid_request" && detail) {
      for (const part of detail.split("; ")) {
        const match = part.match(/^([\w.]+): (.*)$/);
        if (match) push(match[1], match[2]);
      }
    }
    if (Array.isArray(data.detail)) {
      for (const item of data.detail) if (item && item.loc) push(item.loc, item.msg);
    }
    return found;
  }

  function showServerErrors(form, result, generalBox) {
    let shown = 0;
    for (const [name, message] of serverFieldErrors(result.data)) {
      const candidates = [name, name.split(".").slice(-1)[0], "fields." + name];
      if (candidates.some((candidate) => fieldError(form, candidate, message))) shown += 1;
    }
    generalBox.textContent = shown ? "请更正标出的字段 Please correct the marked fields" : errorText(result);
    const first = form.querySelector("[aria-invalid='true']");
    if (first) first.focus();
  }

  // --- sign-in --------------------------------------------------------------------------------
  async function signIn(event) {
    event.preventDefault();
    const input = $("api-key");
    const value = input.value.trim();
    clearErrors($("sign-in-form"));
    if (!/^elk_/.test(value)) {
      $("api-key-error").textContent = "API 密钥格式不对（应以 elk_ 开头） The API key should start with elk_";
      input.setAttribute("aria-invalid", "true");
      return;
    }
    sessionStorage.setItem(KEY, value);
    input.value = "";
    if (!(await loadTypes())) {
      sessionStorage.removeItem(KEY);
      $("api-key-error").textContent = "密钥无效或已停用 The API key was not accepted";
      input.setAttribute("aria-invalid", "true");
    }
  }

  /**
   * The department's name for its code, from the public trust list (a signed JWS whose payload
   * is read here for display only; counters check its signature). null when it cannot be read.
   */
  async function departmentName(code) {
    try {
      const response = await fetch("/trust-list", { cache: "no-store" });
      if (!response.ok) return null;
      const payload = (await response.text()).split(".")[1] || "";
      const json = new TextDecoder().decode(Uint8Array.from(
        atob(payload.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0)));
      const entry = (JSON.parse(json).departments || []).find((d) => d.code === code);
      return entry ? entry.name : null;
    } catch (_) {
      return null;
    }
  }

  /** Says who is signed in: the department (from its licence types) and the key's prefix. */
  async function showSignedIn() {
    const key = apiKey() || "";
    const prefix = key.slice(0, 12);
    const code = types.length ? types[0].department : null;
    const box = $("signed-in");
    box.dataset.department = code || "";
    box.hidden = false;
    const name = code ? await departmentName(code) : null;
    box.replaceChildren(...bi("已登录", "Signed in"), "：",
      el("strong", { id: "signed-in-department" },
        code ? (name ? `${name} (${code})` : code) : "部门未知（尚无证照类型） department not known yet (no licence types)"),
      el("span", { class: "muted", id: "signed-in-key" }, ` · 密钥 key ${prefix}…`));
  }

  function signOut() {
    sessionStorage.removeItem(KEY);
    $("signed-in").hidden = true;
    $("signed-in").replaceChildren();
    $("workspace").hidden = true;
    $("sign-in").hidden = false;
    $("sign-out").hidden = true;
    $("search-results").replaceChildren();
    $("issue-result").textContent = "";
  }

  async function loadTypes() {
    const res = await api(PATHS.types, { token: apiKey() });
    if (res.status === 401 || res.status === 403) return false;
    $("sign-in").hidden = true;
    $("workspace").hidden = false;
    $("sign-out").hidden = false;
    types = listOf(res.data, "licence_types");
    const select = $("licence-type");
    select.replaceChildren(...types.map((type) => el("option", { value: type.code }, `${type.name} (${type.code})`)));
    if (!res.ok) $("issue-error").textContent = errorText(res);
    else if (!types.length) $("issue-error").textContent = "本部门尚无证照类型 This department has no licence types yet";
    buildIssueFields();
    await showSignedIn();
    return true;
  }

  // --- issue ----------------------------------------------------------------------------------
  function labelled(id, name, zh, en, control, hint) {
    control.id = id;
    control.dataset.field = name;
    control.setAttribute("aria-describedby", `${id}-error`);
    return [
      el("label", { for: id }, bi(zh, en)),
      control,
      hint ? el("p", { class: "hint" }, hint) : null,
      el("p", { class: "field-error", id: `${id}-error`, "data-error-for": name, "aria-live": "polite" }),
    ];
  }

  /** A field label may be "中文 English": split it so each half gets its language. */
  function splitLabel(label) {
    const match = String(label).match(/^([^A-Za-z]*[^\sA-Za-z])\s+([A-Za-z].*)$/);
    return match ? [match[1], match[2]] : [String(label), ""];
  }

  function buildIssueFields() {
    const type = types.find((t) => t.code === $("licence-type").value);
    const box = $("issue-fields");
    $("issue-result").textContent = "";
    if (!type) {
      box.replaceChildren();
      return;
    }
    const parts = [
      labelled("issue-id-number", "id_number", "持证人身份证号", "Holder's ID number",
        el("input", { name: "id_number", autocomplete: "off", spellcheck: "false", maxlength: "18", required: true })),
      labelled("issue-holder-name", "holder_name", "持证人姓名", "Holder's name",
        el("input", { name: "holder_name", autocomplete: "off", maxlength: "100", required: true })),
    ];
    if ((type.categories || []).length) {
      parts.push(el("fieldset", { "aria-describedby": "issue-categories-error" },
        el("legend", {}, bi("类别", "Categories")),
        el("div", { class: "checkbox-row" }, type.categories.map((category, i) => el("label", { for: `issue-category-${i}` },
          el("input", { type: "checkbox", id: `issue-category-${i}`, name: "categories", value: category }), category))),
        el("p", { class: "field-error", id: "issue-categories-error", "data-error-for": "categories" })));
    }
    for (const spec of type.fields || []) {
      const kind = spec.type || spec.kind || "text";
      const attrs = { name: `fields.${spec.name}`, autocomplete: "off", required: spec.required !== false };
      let control;
      if (kind === "choice" || (spec.choices && spec.choices.length)) {
        control = el("select", attrs, el("option", { value: "" }, "请选择 Choose…"),
          (spec.choices || []).map((choice) => el("option", { value: choice }, choice)));
      } else {
        if (kind === "int" || kind === "integer") Object.assign(attrs, { type: "number", inputmode: "numeric", step: "1" });
        else if (kind === "date") attrs.type = "date";
        else attrs.maxlength = "200";
        control = el("input", attrs);
      }
      const optional = spec.required === false ? "（可选 optional）" : "";
      const [zh, en] = splitLabel(spec.label || spec.name);
      parts.push(labelled(`issue-field-${spec.name}`, `fields.${spec.name}`, zh + optional, en, control));
    }
    parts.push(labelled("issue-valid-from", "valid_from", "生效日期（可选）", "Valid from (optional)",
      el("input", { type: "date", name: "valid_from" })));
    parts.push(labelled("issue-valid-until", "valid_until", "截止日期（可选）", "Valid until (optional)",
      el("input", { type: "date", name: "valid_until" }),
      `默认有效期 ${type.validity_days} 天 Default validity ${type.validity_days} days`));
    box.replaceChildren(...parts.flat().filter(Boolean));
  }

  function issueBody(form, type) {
    const errors = [];
    const value = (name) => (form.querySelector(`[data-field="${CSS.escape(name)}"]`) || {}).value || "";
    const idNumber = value("id_number").trim().toUpperCase();
    if (!idNumber) errors.push(["id_number", "必填 Required"]);
    else if (!/^\d{17}[\dX]$/.test(idNumber)) errors.push(["id_number", "应为 18 位身份证号 Must be an 18-character ID number"]);
    const holderName = value("holder_name").trim();
    if (!holderName) errors.push(["holder_name", "必填 Required"]);
    const fields = {};
    for (const spec of type.fields || []) {
      const raw = value(`fields.${spec.name}`).trim();
      if (!raw) {
        if (spec.required !== false) errors.push([`fields.${spec.name}`, "必填 Required"]);
        continue;
      }
      if (["int", "integer"].includes(spec.type || spec.kind)) {
        if (!/^-?\d+$/.test(raw)) errors.push([`fields.${spec.name}`, "应为整数 Must be a whole number"]);
        else fields[spec.name] = Number.parseInt(raw, 10);
      } else {
        fields[spec.name] = raw;
      }
    }
    const body = { licence_type: type.code, id_number: idNumber, holder_name: holderName, fields };
    const categories = [...form.querySelectorAll("input[name=categories]:checked")].map((c) => c.value);
    if (categories.length) body.categories = categories;
    const from = value("valid_from");
    const until = value("valid_until");
    if (from) body.valid_from = `${from}T00:00:00+08:00`;
    if (until) body.valid_until = `${until}T23:59:59+08:00`;
    return { body, errors };
  }

  async function issue(event) {
    event.preventDefault();
    const form = $("issue-form");
    clearErrors(form);
    $("issue-error").textContent = "";
    $("issue-result").textContent = "";
    const type = types.find((t) => t.code === $("licence-type").value);
    if (!type) {
      fieldError(form, "licence_type", "请选择证照类型 Choose a licence type");
      return;
    }
    const { body, errors } = issueBody(form, type);
    if (errors.length) {
      for (const [name, message] of errors) fieldError(form, name, message);
      $("issue-error").textContent = "请更正标出的字段 Please correct the marked fields";
      form.querySelector("[aria-invalid='true']").focus();
      return;
    }
    $("issue-submit").disabled = true;
    const res = await api(PATHS.licences, { method: "POST", json: body, token: apiKey() });
    $("issue-submit").disabled = false;
    if (res.status === 401) return signOut();
    if (!res.ok) {
      showServerErrors(form, res, $("issue-error"));
      return;
    }
    const lic = res.data;
    $("issue-result").replaceChildren(
      "已签发 Issued: ", el("strong", { "data-licence-number": lic.number }, lic.number), " · ",
      `${formatDate(lic.valid_from)} – ${formatDate(lic.valid_until)}`);
    for (const input of $("issue-fields").querySelectorAll("input, select")) {
      if (input.type === "checkbox") input.checked = false;
      else input.value = "";
    }
  }

  // --- search and status changes --------------------------------------------------------------
  async function search(event) {
    if (event) event.preventDefault();
    const form = $("search-form");
    clearErrors(form);
    $("search-error").textContent = "";
    const input = $("search-id-number");
    const idNumber = input.value.trim().toUpperCase();
    if (!/^\d{17}[\dX]$/.test(idNumber)) {
      fieldError(form, "id_number", "应为 18 位身份证号 Must be an 18-character ID number");
      input.setAttribute("aria-invalid", "true");
      return;
    }
    const body = { id_number: idNumber };
    if ($("search-status").value) body.status = $("search-status").value;
    // The ID number goes in the body, never in the URL.
    const res = await api(PATHS.search, { method: "POST", json: body, token: apiKey() });
    if (res.status === 401) return signOut();
    if (!res.ok) {
      showServerErrors(form, res, $("search-error"));
      return;
    }
    const licences = listOf(res.data, "licences");
    $("search-empty").hidden = licences.length > 0;
    $("search-results").replaceChildren(...licences.map(resultCard));
  }

  function resultCard(lic) {
    const [zh, en] = statusWords(lic.status);
    const card = el("div", { class: "result-card", "data-licence-id": lic.id, "data-licence-number": lic.number },
      el("dl", { class: "facts" },
        el("dt", {}, bi("证照编号", "Number")), el("dd", {}, lic.number),
        el("dt", {}, bi("类型", "Type")), el("dd", {}, lic.licence_type),
        el("dt", {}, bi("持证人", "Holder")), el("dd", {}, `${lic.holder_name} · ${lic.masked_id}`),
        el("dt", {}, bi("有效期", "Valid")), el("dd", {}, `${formatDate(lic.valid_from)} – ${formatDate(lic.valid_until)}`),
        el("dt", {}, bi("状态", "Status")),
        el("dd", {}, el("span", { class: "badge " + lic.status, "data-status": lic.status }, `${zh} ${en}`))));
    const acts = lic.status === "valid" ? ["revoke", "suspend"] : lic.status === "suspended" ? ["reinstate", "revoke"] : [];
    if (acts.length) card.append(actForm(lic, acts));
    return card;
  }

  function actForm(lic, acts) {
    const id = `act-${lic.id}`;
    const actSelect = el("select", { id: `${id}-act`, name: "act" },
      acts.map((act) => el("option", { value: act }, `${ACTS[act][0]} ${ACTS[act][1]}`)));
    const reasonSelect = el("select", { id: `${id}-reason`, name: "reason" });
    const fillReasons = () => reasonSelect.replaceChildren(...REASONS[actSelect.value].map(
      ([code, zh, en]) => el("option", { value: code }, `${zh} ${en}`)));
    const submit = el("button", { type: "submit" }, bi("确认", "Confirm"));
    // The button's colour follows the act (red revoke, amber suspend); its words say it too.
    const fit = () => {
      fillReasons();
      const [zh, en, style] = ACTS[actSelect.value];
      submit.className = style;
      submit.replaceChildren(...bi(`确认${zh}`, `Confirm: ${en.toLowerCase()}`));
    };
    actSelect.addEventListener("change", fit);
    const note = el("input", { id: `${id}-note`, name: "note", maxlength: "500", autocomplete: "off" });
    const message = el("p", { class: "message error", role: "alert" });
    const form = el("form", { class: "act-form", novalidate: true },
      el("label", { for: actSelect.id }, bi("操作", "Action")), actSelect,
      el("label", { for: reasonSelect.id }, bi("原因", "Reason")), reasonSelect,
      el("label", { for: note.id }, bi("备注（可选）", "Note (optional)")), note,
      el("div", { class: "actions" }, submit), message);
    fit();
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { reason: reasonSelect.value };
      if (note.value.trim()) body.note = note.value.trim();
      submit.disabled = true;
      const res = await api(`${PATHS.licences}/${encodeURIComponent(lic.id)}/${actSelect.value}`,
        { method: "POST", json: body, token: apiKey() });
      submit.disabled = false;
      if (res.status === 401) return signOut();
      if (!res.ok) {
        message.textContent = errorText(res);
        return;
      }
      await search();
    });
    return form;
  }

  $("sign-in-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  $("licence-type").addEventListener("change", buildIssueFields);
  $("issue-form").addEventListener("submit", issue);
  $("search-form").addEventListener("submit", search);

  if (apiKey()) loadTypes().then((ok) => { if (!ok) signOut(); });
})();
