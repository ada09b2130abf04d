// End-to-end tests of the pages in headless Chromium (Debian `chromium`,
// driven by playwright-core), against a server this script starts on
// port 0 with a fresh library. axe-core runs inside every page, in the
// standard and the large-text mode (长辈版); a serious or critical
// violation fails the run. A screenshot of every page in both modes is
// saved to the artifacts folder.
//
//   node run.mjs [path/to/zhengzhao] [artifacts folder]
//
// The flows are what people do: check a license by its identifier, raise
// an objection and follow it (keyboard only), see the objection flag on
// the public check, and meet the error summary.

import { chromium } from "playwright-core";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { createInterface } from "node:readline";
import { createHmac } from "node:crypto";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const BIN = resolve(process.argv[2] ?? join(here, "../../target/debug/zhengzhao"));
const ARTIFACTS = resolve(process.argv[3] ?? join(here, "../../target/browser-artifacts"));
const AXE = readFileSync(join(here, "node_modules/axe-core/axe.min.js"), "utf8");
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

const failures = [];
let checks = 0;
function check(ok, what) {
  checks += 1;
  if (!ok) {
    failures.push(what);
    console.error(`FAIL ${what}`);
  }
}

// --- the server -----------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), "zhengzhao-browser-"));
const env = { ...process.env, ZHENGZHAO_LOG_LEVEL: "warn" };
delete env.ZHENGZHAO_DATABASE_URL;
delete env.ZHENGZHAO_DATA;

function cli(...args) {
  return execFileSync(BIN, args, { cwd: dir, env, encoding: "utf8" }).trim();
}

// The region's identity provider for holders: the suite's own test
// provider (tests/api/oidc_provider.py, written from the specs).
const OIDC_CLIENT = "zhengzhao-browser";
const OIDC_SECRET = "browser-test-secret";

async function startIdp() {
  const script = join(here, "../../crates/zhengzhao-http/tests/api/oidc_provider.py");
  const child = spawn("python3", [script, OIDC_CLIENT, OIDC_SECRET], { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout });
  const port = await new Promise((ok, fail) => {
    child.on("exit", (code) => fail(new Error(`identity provider exited (${code})`)));
    lines.on("line", (line) => line.startsWith("PORT ") && ok(line.slice(5).trim()));
  });
  return { child, base: `http://127.0.0.1:${port}` };
}

async function startServer(idp) {
  const child = spawn(
    BIN,
    ["serve", "--listen", "127.0.0.1:0", "--holder-oidc-issuer", idp.base, "--holder-oidc-client-id", OIDC_CLIENT],
    {
      cwd: dir,
      env: { ...env, ZHENGZHAO_HOLDER_OIDC_CLIENT_SECRET: OIDC_SECRET },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const lines = createInterface({ input: child.stdout });
  const base = await new Promise((ok, fail) => {
    child.on("exit", (code) => fail(new Error(`server exited (${code})`)));
    lines.on("line", (line) => {
      const at = line.indexOf("listening on ");
      if (at >= 0) ok(line.slice(at + "listening on ".length).trim());
    });
  });
  lines.on("line", () => {});
  return { child, base };
}

async function api(base, token, method, path, body) {
  const r = await fetch(base + path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s) of a base32 secret at `step`. */
function totp(secretBase32, step) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of secretBase32.replace(/=+$/, "")) bits += alphabet.indexOf(ch).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", key).update(counter).digest();
  const at = mac[mac.length - 1] & 0xf;
  const n = (mac.readUInt32BE(at) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, "0");
}

/** A unified social credit code (GB 32100) from its first 17 characters. */
function uscc(first17) {
  const chars = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  const weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
  const sum = [...first17].reduce((acc, c, i) => acc + chars.indexOf(c) * weights[i], 0);
  return first17 + chars[(31 - (sum % 31)) % 31];
}

/** A staff account made at the command line: its one-time credentials. */
function staffAccount(username, name, org, role) {
  const out = cli("user", "create", "--username", username, "--name", name, "--org", org, "--role", role);
  const field = (k) => out.split("\n").find((l) => l.startsWith(`${k}: `)).slice(k.length + 2).trim();
  return { username, password: field("initial_password"), secret: field("totp_secret") };
}

/** Log in at /login by keyboard; `step` is the TOTP step to use. */
async function login(page, base, account, password, step) {
  await page.goto(base + "/login");
  await tabTo(page, "#username");
  await page.keyboard.type(account.username);
  await tabTo(page, "#password");
  await page.keyboard.type(password);
  await tabTo(page, "#totp_code");
  await page.keyboard.type(totp(account.secret, step));
  await navigating(page, () => page.keyboard.press("Enter"));
}

// --- helpers in the page ----------------------------------------------------

/** Serious or critical axe violations of the page, as lines. */
async function axeViolations(page) {
  await page.addScriptTag({ content: AXE });
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] },
    }),
  );
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

/** Press Tab until the focused element matches `selector` (keyboard only). */
async function tabTo(page, selector, max = 80) {
  for (let i = 0; i < max; i += 1) {
    await page.keyboard.press("Tab");
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
  }
  throw new Error(`Tab never reached ${selector}`);
}

/** Do `act` (a key press or a click) and wait for the page it loads. */
async function navigating(page, act) {
  await Promise.all([page.waitForNavigation({ waitUntil: "load" }), act()]);
}

async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

// --- the run ----------------------------------------------------------------

mkdirSync(ARTIFACTS, { recursive: true });
const idp = await startIdp();
const { child, base } = await startServer(idp);
let browser;
try {
  const clerk = cli("token", "create", "--org", "150102", "--role", "issuer_clerk", "--label", "浏览器测试 签发");
  const handler = cli("token", "create", "--org", "150102", "--role", "objection_handler", "--label", "浏览器测试 异议");
  const issued = await api(base, clerk, "POST", "/api/v1/licenses", {
    type_code: "11100000MB0143028R001",
    issuer: "150102",
    holder: { name: "呼和浩特市青城科技有限公司", id_type: "uscc", id: "91150102MA0N4JXK2C" },
    face: {
      credit_code: "91150102MA0N4JXK2C",
      name: "呼和浩特市青城科技有限公司",
      entity_type: "有限责任公司",
      business_scope: "软件开发",
      established_date: "2024-01-15",
      registration_authority: "150102",
      registration_date: "2024-01-15",
    },
    valid_from: "2024-01-15",
    valid_until: null,
    source: { system: "qiye-dengji", record_id: "B-1" },
  });
  const license = issued.license_id;

  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: CHROMIUM_FLAGS });

  const pages = [
    ["home", "/"],
    ["verify", "/verify"],
    ["verify-result", `/verify?id=${encodeURIComponent(license)}`],
    ["catalog", "/catalog"],
    ["objection-new", "/objections/new"],
    ["objection-form", `/objections/new?license_id=${encodeURIComponent(license)}`],
    ["objection-track", "/objections/track"],
    ["login", "/login"],
    ["apply", "/apply"],
    ["apply-form", "/apply?type_code=11100000MB0143028R001"],
    ["holder", "/holder"],
    ["certificates", "/certificates"],
  ];

  for (const mode of ["standard", "large"]) {
    // Scripts of our own only; axe is put in by the test, past the CSP.
    const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    if (mode === "large") {
      // The visitor chooses the 长辈版 by the link every page has.
      await page.goto(base + "/verify");
      await Promise.all([page.waitForURL((u) => !u.pathname.startsWith("/mode/")), page.click("a.to-large")]);
      await page.waitForLoadState("load");
      check(new URL(page.url()).pathname === "/verify", "the 长辈版 link comes back to the same page");
      const size = await page.evaluate(() => parseFloat(getComputedStyle(document.body).fontSize));
      check(size >= 20, `长辈版 base text is at least 20 px (${size})`);
      const button = await page.locator("main button").first().boundingBox();
      check(button && button.width >= 60 && button.height >= 60, "长辈版 main actions are at least 60×60 px");
      const lineHeight = await page.evaluate(() => {
        const s = getComputedStyle(document.body);
        return parseFloat(s.lineHeight) / parseFloat(s.fontSize);
      });
      check(lineHeight >= 1.5, `长辈版 line height is at least 1.5 (${lineHeight})`);
      check(await page.locator("a.to-standard").isVisible(), "长辈版 offers the way back");
    }
    for (const [name, path] of pages) {
      await page.goto(base + path);
      check((await page.locator("html").getAttribute("lang")) === "zh-CN", `${mode} ${name}: lang zh-CN`);
      const violations = await axeViolations(page);
      check(violations.length === 0, `${mode} ${name}: axe serious/critical: ${violations.join("; ")}`);
      await shot(page, `${mode}-${name}`);
      // 200 % zoom of a 1280 px screen is a 640 px viewport: the page
      // reflows, nothing needs scrolling sideways (WCAG 1.4.10).
      await page.setViewportSize({ width: 640, height: 800 });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(overflow <= 1, `${mode} ${name}: no sideways scrolling at 200 % zoom (${overflow} px)`);
      await page.setViewportSize({ width: 1280, height: 800 });
    }
    await context.close();
  }

  // Check a license by its identifier, keyboard only.
  {
    const context = await browser.newContext({ bypassCSP: true });
    const page = await context.newPage();
    await page.goto(base + "/verify");
    await tabTo(page, "#id");
    await page.keyboard.type(license);
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/verify\?id=/);
    check((await page.locator("#result").innerText()).includes("有效"), "keyboard: the verify page says valid");
    await context.close();
  }

  // Scan a QR code by picture (on a phone the file input opens the
  // camera): the holder's presentation code, photographed, opens its check.
  {
    const made = await api(base, clerk, "POST", `/api/v1/licenses/${encodeURIComponent(license)}/presentations`, { fields: ["name"] });
    const picture = Buffer.from(await (await fetch(base + new URL(made.qr_png).pathname)).arrayBuffer());
    const context = await browser.newContext({ bypassCSP: true });
    const page = await context.newPage();
    await page.goto(base + "/verify");
    await page.setInputFiles("#picture", { name: "扫码.png", mimeType: "image/png", buffer: picture });
    await navigating(page, () => page.click("form[action='/verify/scan'] button[type=submit]"));
    check(new URL(page.url()).pathname.startsWith("/verify/p/") && (await page.locator("main").innerText()).includes("呼和浩特市青城科技有限公司"),
      `a photographed code opens its check (${new URL(page.url()).pathname.slice(0, 12)}…)`);
    await page.goto(base + "/verify");
    await page.setInputFiles("#picture", { name: "空白.png", mimeType: "image/png", buffer: readFileSync(join(ARTIFACTS, "standard-home.png")) });
    await navigating(page, () => page.click("form[action='/verify/scan'] button[type=submit]"));
    check((await page.locator("main").innerText()).includes("图片中未找到二维码"), "a picture without a code says so");
    await context.close();
  }

  // Find the business license by credit code and name; check a PDF file.
  {
    const context = await browser.newContext({ bypassCSP: true });
    const page = await context.newPage();
    await page.goto(base + "/verify");
    await page.fill("#credit_code", "91150102MA0N4JXK2C");
    await page.fill("#holder_name", "呼和浩特市青城科技有限公司");
    await navigating(page, () => page.click("form:has(#credit_code) button[type=submit]"));
    check((await page.locator("#result").innerText()).includes("有效"), "credit code and name find the business license");
    await page.fill("#credit_code", "91150102MA0N4JXK2C");
    await page.fill("#holder_name", "别的公司");
    await navigating(page, () => page.click("form:has(#credit_code) button[type=submit]"));
    check((await page.locator("#result").count()) === 0, "a name that does not match finds nothing");
    const pdf = await fetch(`${base}/api/v1/licenses/${encodeURIComponent(license)}/pdf`, {
      headers: { authorization: `Bearer ${clerk}` },
    });
    const file = join(dir, "license.pdf");
    writeFileSync(file, Buffer.from(await pdf.arrayBuffer()));
    await page.goto(base + "/verify");
    await page.setInputFiles("#file", file);
    await navigating(page, () => page.click("form:has(#file) button[type=submit]"));
    check((await page.locator("#file-result").innerText()).includes("真实有效"), "the uploaded PDF is genuine and current");
    await shot(page, "standard-verify-file");
    await context.close();
  }

  // Raise an objection, keyboard only; meet the error summary first.
  let ticket;
  let code;
  {
    const context = await browser.newContext({ bypassCSP: true });
    const page = await context.newPage();
    await page.goto(base + "/objections/new");
    await tabTo(page, "#license_id");
    await page.keyboard.type(license);
    await page.keyboard.press("Enter");
    await page.waitForSelector("#kind");
    // Submitted empty: the error summary, focused, each message linked.
    await tabTo(page, "form[method=post] button[type=submit]");
    await page.keyboard.press("Enter");
    await page.waitForSelector("#error-summary");
    check((await page.title()).startsWith("错误："), "the title of a page with errors starts 错误：");
    check(
      await page.evaluate(() => document.activeElement?.id === "error-summary"),
      "the error summary takes the focus",
    );
    check((await page.locator("#error-summary h2").innerText()).includes("出现问题"), "the summary is headed 出现问题");
    const links = await page.locator("#error-summary a").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
    for (const href of links) {
      check((await page.locator(href).count()) === 1, `the error link ${href} leads to its field`);
    }
    await shot(page, "standard-objection-errors");
    // Now filled in properly, still by keyboard.
    await tabTo(page, "#kind-accuracy");
    await page.keyboard.press("Space");
    await tabTo(page, "#field-business_scope");
    await page.keyboard.press("Space");
    await tabTo(page, "#statement");
    await page.keyboard.type("经营范围漏登了信息技术咨询服务。");
    // The evidence, as a file (a file chooser is the system's, not the page's).
    await page.setInputFiles("#attachments", {
      name: "营业执照照片.png",
      mimeType: "image/png",
      buffer: Buffer.from("89504e470d0a1a0a0000000d4948445200000001000000010806000000" + "1f15c489", "hex"),
    });
    await tabTo(page, "#role-holder");
    await page.keyboard.press("Space");
    await tabTo(page, "#name");
    await page.keyboard.type("李四");
    await tabTo(page, "#phone");
    await page.keyboard.type("13800000000");
    await page.keyboard.press("Enter");
    await page.waitForSelector("#ticket");
    ticket = (await page.locator("#ticket").innerText()).trim();
    code = (await page.locator("#tracking-code").innerText()).trim();
    check(/^YY\d{8}-[A-Z0-9]{6}$/.test(ticket), `the confirmation shows the ticket (${ticket})`);
    await shot(page, "standard-objection-done");
    const violations = await axeViolations(page);
    check(violations.length === 0, `objection confirmation: axe: ${violations.join("; ")}`);
    await context.close();
  }

  // Follow it with ticket and code; a wrong code shows the error summary.
  {
    const context = await browser.newContext({ bypassCSP: true });
    const page = await context.newPage();
    await page.goto(base + "/objections/track");
    await page.fill("#ticket", ticket);
    await page.fill("#tracking_code", "WRONGCODE2345678");
    await page.click("form button[type=submit]");
    check((await page.locator("#error-summary").count()) === 1, "a wrong tracking code: the error summary");
    await page.fill("#ticket", ticket);
    await page.fill("#tracking_code", code);
    await page.click("form button[type=submit]");
    check((await page.locator("#progress").innerText()).includes("待受理"), "tracking shows the objection submitted");
    const violations = await axeViolations(page);
    check(violations.length === 0, `objection tracking: axe: ${violations.join("; ")}`);
    await shot(page, "standard-objection-tracked");
    await context.close();
  }

  // A clerk logs in with password and TOTP (first setting a new password),
  // issues a license through the form, sees it valid on the public page,
  // updates it and sees the diff, revokes it, and the page says revoked.
  {
    const clerkAccount = staffAccount("clerk.browser", "王五", "150102", "issuer_clerk");
    const context = await browser.newContext({ bypassCSP: true, locale: "en-US" });
    const page = await context.newPage();
    const step = Math.floor(Date.now() / 1000 / 30);
    await login(page, base, clerkAccount, clerkAccount.password, step);
    check(new URL(page.url()).pathname === "/account", "a first login must set a new password");
    const newPassword = "Qingcheng-2026-Anquan!";
    await page.fill("#current_password", clerkAccount.password);
    await page.fill("#new_password", newPassword);
    await navigating(page, () => page.click("form[action='/account/password'] button[type=submit]"));
    await login(page, base, clerkAccount, newPassword, step + 1);
    check(new URL(page.url()).pathname === "/console", `after login the console (${page.url()})`);
    // A session about to time out warns on the page and can be extended
    // (the page's clock is moved on; nothing sleeps).
    {
      const timed = await context.newPage();
      await timed.clock.install();
      await timed.goto(base + "/console");
      await timed.waitForLoadState("networkidle");
      await timed.clock.fastForward("28:30");
      const warning = timed.locator("#session-warning");
      check(await warning.isVisible(), "the session warning shows before the idle timeout");
      check(await timed.evaluate(() => document.activeElement?.closest("#session-warning") !== null), "the warning's button has the focus");
      await shot(timed, "standard-console-session-warning");
      const asked = timed.waitForResponse((r) => r.url().endsWith("/api/v1/session") && r.status() === 200);
      await timed.keyboard.press("Enter");
      await asked;
      await timed.waitForFunction(() => document.getElementById("session-warning")?.hidden === true, null, { timeout: 5000 }).catch(() => {});
      check(
        await timed.evaluate(() => document.getElementById("session-warning")?.hidden === true),
        "continuing asks the server (the session goes on) and hides the warning",
      );
      await timed.close();
    }
    await shot(page, "standard-console");
    // The chart's numbers stand in the table beside it: this month's row
    // counts the license issued above.
    const lastRow = await page.locator("#issuance ~ table tbody tr, section:has(#issuance) table tbody tr").last().innerText();
    check(/\t[1-9]\d*\t/.test(lastRow), `this month's issuance is counted (${lastRow})`);
    check((await page.locator("section:has(#issuance) svg[role=img] title").first().textContent()).length > 0, "the chart has a title");
    // The public checks made above (the verify page) are counted today.
    const checksRow = await page.locator("section:has(#checks) table tbody tr").first().innerText().catch(() => "");
    check(/按证照标识 [1-9]/.test(checksRow), `today's checks are counted (${checksRow})`);
    let violations = await axeViolations(page);
    check(violations.length === 0, `console: axe: ${violations.join("; ")}`);

    await page.goto(base + "/console/licenses/new?type_code=11100000MB0143028R001");
    violations = await axeViolations(page);
    check(violations.length === 0, `issue form: axe: ${violations.join("; ")}`);
    // Keyboard only: the holder, the required face fields, the dates.
    const typeInto = async (selector, text) => {
      await tabTo(page, selector);
      await page.keyboard.type(text);
    };
    await typeInto("#holder_name", "呼和浩特市草原科技有限公司");
    const holderCode = uscc("91150102MA0N4JXK3");
    // A wrong check character, and most required fields left out.
    await typeInto("#holder_id", holderCode.slice(0, 17) + (holderCode.endsWith("X") ? "Y" : "X"));
    await navigating(page, () => page.keyboard.press("Enter"));
    check((await page.title()).startsWith("错误："), "an incomplete license: the error summary");
    await shot(page, "standard-console-issue-errors");
    // The whole form by keyboard: each field reached with Tab, typed over.
    const retype = async (selector, text) => {
      await tabTo(page, selector);
      await page.keyboard.press("Control+A");
      await page.keyboard.type(text);
    };
    await retype("#holder_id", holderCode);
    await retype("#face-credit_code", holderCode);
    await retype("#face-name", "呼和浩特市草原科技有限公司");
    await retype("#face-entity_type", "有限责任公司");
    await retype("#face-business_scope", "软件开发");
    // Date inputs take the digits of the context's locale (en-US: mm dd yyyy).
    await retype("#face-established_date", "01152024");
    await retype("#face-registration_authority", "150102");
    await retype("#face-registration_date", "01152024");
    await retype("#valid_from", "01152024");
    await tabTo(page, "form[method=post] button[type=submit]");
    await navigating(page, () => page.keyboard.press("Enter"));
    const issuedId = (await page.locator("#license-id").innerText().catch(() => "")).trim();
    check(issuedId.startsWith("1.2.156.3005.2.11100000MB0143028R001."), `the form issued a license (${issuedId}; ${page.url()})`);
    await shot(page, "standard-console-license");

    const publicPage = await context.newPage();
    await publicPage.goto(`${base}/verify?id=${encodeURIComponent(issuedId)}`);
    check((await publicPage.locator("#result").innerText()).includes("有效"), "the public page shows the new license valid");

    // Found again by the search, by holder.
    const search = await context.newPage();
    await search.goto(`${base}/console/licenses?holder=${holderCode}`);
    check((await search.locator("#licenses").innerText()).includes(issuedId), "the console search finds it by holder");
    const searchViolations = await axeViolations(search);
    check(searchViolations.length === 0, `console search: axe: ${searchViolations.join("; ")}`);
    await shot(search, "standard-console-search");
    await search.close();

    await page.fill("#face-business_scope", "软件开发；信息技术咨询服务");
    await page.selectOption("#reason_kind", "change");
    await page.fill("#reason_text", "经营范围变更");
    await navigating(page, () => page.click("form[action$='/update'] button[type=submit]"));
    const history = await page.locator("#history").innerText();
    check(history.includes("经营范围") && history.includes("信息技术咨询服务"), "the history shows the field changed");
    await shot(page, "standard-console-diff");
    const updatedId = (await page.locator("#current-id").innerText()).trim();
    check(updatedId !== issuedId, "the update made a new version");

    await page.fill("#revoke_reason", "企业申请注销");
    await navigating(page, () => page.click("form[action$='/revoke'] button[type=submit]"));
    check((await page.locator("#status").innerText()).includes("已注销"), "the console says revoked");
    await publicPage.goto(`${base}/verify?id=${encodeURIComponent(updatedId)}`);
    check((await publicPage.locator("#result").innerText()).includes("已注销"), "the public page says revoked");

    // A fault stopped issuance yesterday: the clerk records the incident
    // and, once cleared, closes it.
    const yesterday = new Date(Date.now() + 8 * 3600000 - 86400000).toISOString().slice(0, 10);
    await page.goto(base + "/console/incidents");
    await page.fill("#cause", "机房断电");
    await page.fill("#started_at", `${yesterday}T09:00`);
    await page.check("#op-issue");
    await navigating(page, () => page.click("form[action='/console/incidents'] button[type=submit]"));
    check((await page.locator("main").innerText()).includes("机房断电（进行中）"), "the incident is recorded");
    // The paper license issued during the fault goes on its backlog; a
    // registration without its day shows the error summary first.
    await page.fill("input[name=system]", "qiye-dengji");
    await page.fill("input[name=record_id]", "PAPER-7");
    await navigating(page, () => page.click("form[action$='/backlog'] button[type=submit]"));
    check((await page.title()).startsWith("错误："), "a backlog item without its paper day shows the error summary");
    for (const href of await page.locator("#error-summary a").evaluateAll((as) => as.map((x) => x.getAttribute("href")))) {
      check((await page.locator(href).count()) === 1, `the backlog error link ${href} leads to its field`);
    }
    await page.fill("input[name=system]", "qiye-dengji");
    await page.fill("input[name=record_id]", "PAPER-7");
    await page.fill("input[name=paper_issued_on]", yesterday);
    await navigating(page, () => page.click("form[action$='/backlog'] button[type=submit]"));
    check((await page.locator("main").innerText()).includes("qiye-dengji / PAPER-7"), "the backlog item is registered");
    await page.goto(base + "/console");
    const todo = await page.locator("section:has(#todo) table").innerText();
    check(/进行中的应急事件\s+1/.test(todo) && /应急补录待完成（其中已超期）\s+1（0）/.test(todo), `the dashboard shows the open incident and its backlog (${todo.replace(/\s+/g, " ")})`);
    await page.goto(base + "/console/incidents");
    let incidentViolations = await axeViolations(page);
    check(incidentViolations.length === 0, `console incidents: axe: ${incidentViolations.join("; ")}`);
    await page.fill("input[name=cleared_at]", `${yesterday}T17:00`);
    await navigating(page, () => page.click("form[action$='/close'] button[type=submit]"));
    const afterClose = await page.locator("main").innerText();
    check(afterClose.includes("机房断电（已结束）"), "the incident is closed");
    check(/PAPER-7\s+签发\s+\S+\s+\d{4}-\d{2}-\d{2}/.test(afterClose), "closing gives the backlog item its due day");
    await shot(page, "standard-console-incidents");

    // An auditor finds the license's whole story in the audit log and
    // downloads the inclusion proof of an event.
    const auditor = staffAccount("auditor.browser", "孙八", "150102", "auditor");
    const auditContext = await browser.newContext({ bypassCSP: true, acceptDownloads: true });
    const au = await auditContext.newPage();
    const auditStep = Math.floor(Date.now() / 1000 / 30);
    await login(au, base, auditor, auditor.password, auditStep);
    await au.fill("#current_password", auditor.password);
    await au.fill("#new_password", "Shenjiyuan-2026-Anquan!");
    await navigating(au, () => au.click("form[action='/account/password'] button[type=submit]"));
    await login(au, base, auditor, "Shenjiyuan-2026-Anquan!", auditStep + 1);
    await navigating(au, () => au.click("a[href='/console/audit']"));
    await au.fill("#license", issuedId);
    await navigating(au, () => au.click("form[action='/console/audit'] button[type=submit]"));
    const story = await au.locator("#events").innerText();
    check(["license.issue", "license.update", "license.revoke"].every((a) => story.includes(a)), "the audit log tells the license's story");
    const auditViolations = await axeViolations(au);
    check(auditViolations.length === 0, `console audit: axe: ${auditViolations.join("; ")}`);
    await shot(au, "standard-console-audit");
    const [proof] = await Promise.all([au.waitForEvent("download"), au.click("#events a[download]")]);
    const proofJson = JSON.parse(readFileSync(await proof.path(), "utf8"));
    check(Array.isArray(proofJson.path ?? proofJson.audit_path ?? proofJson.proof), `the inclusion proof downloads (${Object.keys(proofJson).join(",")})`);
    await auditContext.close();
    await context.close();
  }

  // The region's security admin creates a clerk's account (its one-time
  // credentials shown once) and disables it.
  {
    const admin = staffAccount("security.browser", "周九", "150000", "security_admin");
    const context = await browser.newContext({ bypassCSP: true });
    const page = await context.newPage();
    const step = Math.floor(Date.now() / 1000 / 30);
    await login(page, base, admin, admin.password, step);
    await page.fill("#current_password", admin.password);
    await page.fill("#new_password", "Anquanguan-2026-Mima!");
    await navigating(page, () => page.click("form[action='/account/password'] button[type=submit]"));
    await login(page, base, admin, "Anquanguan-2026-Mima!", step + 1);
    await navigating(page, () => page.click("a[href='/console/users']"));
    await page.fill("#username", "clerk.two");
    await page.fill("#display_name", "吴十");
    await page.fill("#org", "150102");
    await page.check("#role-issuer_clerk");
    await navigating(page, () => page.click("form[action='/console/users'] button[type=submit]"));
    check((await page.locator("#initial-password").count()) === 1, "the new account's initial password is shown once");
    const violations = await axeViolations(page);
    check(violations.length === 0, `console users: axe: ${violations.join("; ")}`);
    await shot(page, "standard-console-users");
    await page.goto(base + "/console/users");
    check((await page.locator("#initial-password").count()) === 0, "and never again");
    const row = page.locator("#users tr", { hasText: "clerk.two" });
    await navigating(page, () => row.locator("form[action$='/disable'] button").click());
    check((await page.locator("#users tr", { hasText: "clerk.two" }).innerText()).includes("已停用"), "the account is disabled");
    await context.close();
  }

  // The region's catalog admin adds a license type with its face fields,
  // then makes its second version with one more field; the public catalog
  // shows it.
  {
    const admin = staffAccount("catalog.browser", "郑十一", "150000", "catalog_admin");
    const context = await browser.newContext({ bypassCSP: true });
    const page = await context.newPage();
    const step = Math.floor(Date.now() / 1000 / 30);
    await login(page, base, admin, admin.password, step);
    await page.fill("#current_password", admin.password);
    await page.fill("#new_password", "Muluguan-2026-Mima!");
    await navigating(page, () => page.click("form[action='/account/password'] button[type=submit]"));
    await login(page, base, admin, "Muluguan-2026-Mima!", step + 1);
    await navigating(page, () => page.click("a[href='/console/catalog']"));
    let violations = await axeViolations(page);
    check(violations.length === 0, `console catalog: axe: ${violations.join("; ")}`);
    await navigating(page, () => page.click("a[href='/console/catalog/new']"));
    await navigating(page, () => page.click("form button[type=submit]:not([name=more])"));
    check((await page.title()).startsWith("错误："), "an empty type shows the error summary");
    const catalogLinks = await page.locator("#error-summary a").evaluateAll((as) => as.map((x) => x.getAttribute("href")));
    const missing = [];
    for (const href of catalogLinks) if ((await page.locator(href).count()) !== 1) missing.push(href);
    check(catalogLinks.length > 0 && missing.length === 0, `each catalog error links to its field (${missing.join(" ")})`);
    const code = "11100000MB0143028R077";
    await page.fill("#code", code);
    await page.fill("#name", "浏览器测试许可证");
    await page.fill("#authority_name", "国家市场监督管理总局");
    await page.fill("#authority_code", "11100000MB0143028R");
    await page.check("#level-banner");
    await page.check("#holder-legal_person");
    await page.fill("#aggregation_start", "2026-01-01");
    await page.check("#public-public");
    await page.check("#standard-region");
    await page.fill("#f0-name", "permit_no");
    await page.fill("#f0-label", "许可证编号");
    await page.fill("#f0-max_length", "30");
    await page.check("#f0-required");
    await page.fill("#f1-name", "holder_name");
    await page.fill("#f1-label", "持证单位名称");
    await page.selectOption("#f1-same", "name");
    await page.fill("#f1-max_length", "100");
    await page.check("#f1-required");
    await navigating(page, () => page.click("form button[type=submit]:not([name=more])"));
    check(new URL(page.url()).pathname === "/console/catalog" && (await page.locator("main").innerText()).includes("浏览器测试许可证"),
      `the new type is in the catalog (${page.url()} ${await page.locator("#error-summary").innerText().catch(() => "")})`);
    await navigating(page, () => page.click(`a[href='/console/catalog/${code}']`));
    const before = await page.locator("fieldset.face-field").count();
    await navigating(page, () => page.click("button[name=more]"));
    check((await page.locator("fieldset.face-field").count()) === before + 3, "more rows on request, nothing saved");
    await page.fill("#f2-name", "scope");
    await page.fill("#f2-label", "许可范围");
    await page.selectOption("#f2-type", "enum");
    await page.fill("#f2-values", "食品销售\n餐饮服务（含冷食）");
    await page.fill("#f2-max_length", "20");
    violations = await axeViolations(page);
    check(violations.length === 0, `console catalog editor: axe: ${violations.join("; ")}`);
    await shot(page, "standard-console-catalog-edit");
    await navigating(page, () => page.click("form button[type=submit]:not([name=more])"));
    check((await page.locator(`tr`, { hasText: code }).innerText()).includes("2"), "the type is at version 2");
    await page.goto(base + "/catalog");
    // The fields sit in a closed <details>: its text, not what is drawn.
    const notice = await page.locator("main").textContent();
    check(notice.includes("浏览器测试许可证") && notice.includes("许可范围"), "the public catalog shows the new version's fields");
    await context.close();
  }

  // A bank applies through the portal; the region's approver decides.
  {
    const context = await browser.newContext({ bypassCSP: true });
    const page = await context.newPage();
    await page.goto(base + "/apply");
    await navigating(page, () => page.click("form button[type=submit]"));
    await page.check("#field-name");
    await page.check("#field-credit_code");
    await page.fill("#party_name", "某银行股份有限公司呼和浩特分行");
    await page.fill("#party_code", uscc("91150102MA0N4JXK4"));
    await page.check("#party_kind-social");
    await page.check("#kind-social");
    await page.fill("#name", "对公开户");
    await page.fill("#purpose", "对公账户开户时核验营业执照");
    await page.fill("#legal_basis", "《优化营商环境条例》第十九条");
    await page.fill("#expected_daily_volume", "500");
    const today = new Date();
    const day = (d) => new Date(today.getTime() + d * 86400000).toISOString().slice(0, 10);
    await page.fill("#valid_from", day(0));
    await page.fill("#valid_until", day(300));
    await page.fill("#contact_name", "李四");
    await page.fill("#contact_phone", "0471-1234567");
    await navigating(page, () => page.click("form button[type=submit]"));
    const scenario = (await page.locator("#scenario-id").innerText().catch(() => "")).trim();
    check(/^[0-9a-f-]{36}$/.test(scenario), `the application was submitted (${scenario})`);
    await shot(page, "standard-apply-done");
    await context.close();

    // The region's scenario approver decides in the console.
    const approver = staffAccount("approver.browser", "钱七", "150000", "scenario_approver");
    const ac = await browser.newContext({ bypassCSP: true });
    const ap = await ac.newPage();
    const step = Math.floor(Date.now() / 1000 / 30);
    await login(ap, base, approver, approver.password, step);
    await ap.fill("#current_password", approver.password);
    await ap.fill("#new_password", "Shenpiren-2026-Anquan!");
    await navigating(ap, () => ap.click("form[action='/account/password'] button[type=submit]"));
    await login(ap, base, approver, "Shenpiren-2026-Anquan!", step + 1);
    await navigating(ap, () => ap.click("a[href='/console/scenarios']"));
    let scenarioViolations = await axeViolations(ap);
    check(scenarioViolations.length === 0, `console scenarios: axe: ${scenarioViolations.join("; ")}`);
    await ap.check(`#decision-${scenario}-approve`);
    await ap.fill(`#reason-${scenario}`, "材料齐全，同意");
    await navigating(ap, () => ap.click(`form[action='/console/scenarios/${scenario}/decision'] button[type=submit]`));
    check((await ap.locator(`#s-${scenario}`).innerText()).includes("已批准"), "the approver approved it in the console");
    await shot(ap, "standard-console-scenarios");
    await ac.close();

    // A league's scenario approver files a scenario it promotes, on the
    // same form as the portal's; the list shows it as filed.
    const league = staffAccount("league.approver.browser", "周九", "150100", "scenario_approver");
    const lc = await browser.newContext({ bypassCSP: true });
    const lp = await lc.newPage();
    await login(lp, base, league, league.password, step);
    await lp.fill("#current_password", league.password);
    await lp.fill("#new_password", "Mengshi-2026-Beian!");
    await navigating(lp, () => lp.click("form[action='/account/password'] button[type=submit]"));
    await login(lp, base, league, "Mengshi-2026-Beian!", step + 1);
    await navigating(lp, () => lp.click("a[href='/console/scenarios']"));
    await navigating(lp, () => lp.click("a[href='/console/scenarios/file']"));
    await navigating(lp, () => lp.click("form button[type=submit]"));
    await lp.check("#field-name");
    await lp.fill("#party_name", "呼和浩特市不动产登记中心");
    await lp.fill("#party_code", uscc("12150100MB0000001"));
    await lp.check("#party_kind-government");
    await lp.check("#kind-government_other");
    await lp.fill("#name", "不动产登记核验营业执照");
    await lp.fill("#purpose", "办理企业不动产登记时核验营业执照");
    await lp.fill("#legal_basis", "《不动产登记暂行条例》");
    await lp.fill("#expected_daily_volume", "50");
    await lp.fill("#valid_from", day(0));
    await lp.fill("#valid_until", day(200));
    await lp.fill("#contact_name", "吴十");
    await lp.fill("#contact_phone", "0471-7654321");
    await navigating(lp, () => lp.click("form button[type=submit]"));
    const filed = (await lp.locator("#scenario-id").innerText().catch(() => "")).trim();
    check(/^[0-9a-f-]{36}$/.test(filed) && (await lp.locator("#scenario-code").count()) === 0,
      `the league filed a scenario, with no public tracking code (${filed})`);
    let filingViolations = await axeViolations(lp);
    check(filingViolations.length === 0, `console scenario filing: axe: ${filingViolations.join("; ")}`);
    await navigating(lp, () => lp.click("a[href='/console/scenarios']"));
    check((await lp.locator(`#s-${filed}`).locator("xpath=..").innerText()).includes("150100 备案"), "the list shows the filing");
    await shot(lp, "standard-console-scenario-filed");
    await lc.close();

    // The holder signs in at the identity provider, grants the bank a
    // consent, shows its license by QR code, approves the bank's counter
    // request, downloads its license's PDF and withdraws the consent.
    await fetch(`${idp.base}/control`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        login: { sub: "holder-1", claims: { holder_id: "91150102MA0N4JXK2C", holder_id_type: "uscc" } },
        misbehave: null,
      }),
    });
    const holderContext = await browser.newContext({ bypassCSP: true, acceptDownloads: true });
    const hp = await holderContext.newPage();
    await hp.goto(base + "/holder");
    await navigating(hp, () => hp.click("a[href^='/api/v1/holder/sign-in']"));
    check(new URL(hp.url()).pathname === "/holder", `signed in, back on /holder (${hp.url()})`);
    check((await hp.locator("#mine").count()) === 1, "the holder sees its licenses");
    // Grant the bank a consent on the page: choose the scenario, then
    // what it may read, the purpose and the last day.
    await navigating(hp, () => hp.click("a[href='/holder/consents/new']"));
    await hp.selectOption("#scenario", scenario);
    await navigating(hp, () => hp.click("form button[type=submit]"));
    let consentViolations = await axeViolations(hp);
    check(consentViolations.length === 0, `holder consent form: axe: ${consentViolations.join("; ")}`);
    await shot(hp, "standard-holder-consent");
    await navigating(hp, () => hp.click("form button[type=submit]"));
    check((await hp.title()).startsWith("错误："), "a consent with nothing chosen shows the error summary");
    await hp.check("#field-name");
    await hp.check("#field-credit_code");
    await hp.fill("#purpose", "开立对公账户");
    await hp.check("#duration-until");
    await hp.fill("#valid_until", new Date(Date.now() + 30 * 86400000).toISOString().slice(0, 10));
    await navigating(hp, () => hp.click("form button[type=submit]"));
    check(new URL(hp.url()).pathname === "/holder" && (await hp.locator("#consents").locator("xpath=..").innerText()).includes("开立对公账户"),
      "the holder granted a consent on its page");

    // Show the license by QR code: only the name; the code, read by zbarimg
    // from the picture, opens the public page with just that field.
    await navigating(hp, () => hp.click("a[href$='/present']"));
    await hp.check("#field-name");
    await navigating(hp, () => hp.click("form button[type=submit]"));
    const qrSrc = await hp.locator("#presentation-qr").getAttribute("src");
    const qrFile = join(dir, "presentation.png");
    writeFileSync(qrFile, Buffer.from(qrSrc.replace(/^data:image\/png;base64,/, ""), "base64"));
    const qrText = execFileSync("zbarimg", ["--raw", "-q", qrFile], { encoding: "utf8" }).trim();
    check(qrText === (await hp.locator("#presentation-url").getAttribute("href")) && qrText.includes("/verify/p/"),
      `the presentation QR holds the verify link (${qrText.slice(0, 60)}…)`);
    let presentViolations = await axeViolations(hp);
    check(presentViolations.length === 0, `holder presentation: axe: ${presentViolations.join("; ")}`);
    await shot(hp, "standard-holder-present");
    const scanner = await browser.newContext({ bypassCSP: true });
    const sp = await scanner.newPage();
    await sp.goto(base + new URL(qrText).pathname);
    const shown = await sp.locator("main").innerText();
    check(shown.includes("呼和浩特市青城科技有限公司") && !shown.includes("软件开发"),
      "a scan shows the chosen field and not the others");
    await sp.reload();
    check((await sp.locator("main").innerText()).includes("已过期或已使用"), "a single-use code scans once");
    await scanner.close();

    // At the bank's counter: the bank's QR asks for consent; the holder
    // opens it (signed in), sees who asks for what, and approves.
    const approverToken = cli("token", "create", "--org", "150000", "--role", "scenario_approver", "--label", "浏览器测试 场景凭证");
    const credential = await api(base, approverToken, "POST", `/api/v1/scenarios/${scenario}/credentials`, { signed: false });
    const asked = await api(base, credential.token, "POST", "/api/v1/shared/consent-requests", {
      type_codes: ["11100000MB0143028R001"],
      fields: ["name"],
      use_cause: "柜台办理对公开户",
    });
    await hp.goto(base + new URL(asked.page_url).pathname);
    check((await hp.locator("main").innerText()).includes("柜台办理对公开户"), "the holder sees the counter's request");
    let requestViolations = await axeViolations(hp);
    check(requestViolations.length === 0, `holder request: axe: ${requestViolations.join("; ")}`);
    await shot(hp, "standard-holder-request");
    await navigating(hp, () => hp.click("form[action$='/approve'] button[type=submit]"));
    check((await hp.locator("#answered").count()) === 1, "the holder approved the counter's request");
    await hp.goto(base + "/holder");
    await hp.reload();
    let violations = await axeViolations(hp);
    check(violations.length === 0, `holder page signed in: axe: ${violations.join("; ")}`);
    await shot(hp, "standard-holder");
    const [download] = await Promise.all([
      hp.waitForEvent("download"),
      hp.click("a[href^='/holder/licenses/'][href$='/pdf']"),
    ]);
    const pdf = await download.path();
    check(pdf && readFileSync(pdf).subarray(0, 5).toString() === "%PDF-", "the holder downloads its license as a PDF");
    await navigating(hp, () => hp.locator("tr", { hasText: "开立对公账户" }).locator("form[action$='/withdraw'] button[type=submit]").click());
    check((await hp.locator("#consents").locator("xpath=..").innerText()).includes("已撤回"), "the consent is withdrawn");
    await shot(hp, "standard-holder-withdrawn");
    // With the lasting consent withdrawn, the counter's approval lets the
    // bank read once, and only once.
    const bankRead = () =>
      fetch(base + "/api/v1/shared/queries", {
        method: "POST",
        headers: { authorization: `Bearer ${credential.token}`, "content-type": "application/json" },
        body: JSON.stringify({ holder_id: "91150102MA0N4JXK2C", type_code: "11100000MB0143028R001", use_cause: "柜台办理对公开户", fields: ["name"] }),
      });
    const first = await bankRead();
    const second = await bankRead();
    check(first.status === 200 && second.status === 403, `the counter's approval reads once (${first.status}, ${second.status})`);
    await holderContext.close();
  }

  // The objection handler accepts it in the console: the public check shows
  // the flag; then decides (kept), answers, and the applicant reads it.
  {
    void handler;
    const account = staffAccount("handler.browser", "赵六", "150102", "objection_handler");
    const context = await browser.newContext({ bypassCSP: true });
    const page = await context.newPage();
    const step = Math.floor(Date.now() / 1000 / 30);
    await login(page, base, account, account.password, step);
    await page.fill("#current_password", account.password);
    await page.fill("#new_password", "Hechazhe-2026-Anquan!");
    await navigating(page, () => page.click("form[action='/account/password'] button[type=submit]"));
    await login(page, base, account, "Hechazhe-2026-Anquan!", step + 1);
    await navigating(page, () => page.click("a[href='/console/objections']"));
    let violations = await axeViolations(page);
    check(violations.length === 0, `console objections: axe: ${violations.join("; ")}`);
    await navigating(page, () => page.click(`a[href='/console/objections/${ticket}']`));
    await navigating(page, () => page.click("form[action$='/accept'] button[type=submit]"));
    check((await page.locator("#state").innerText()).includes("已受理"), "the console accepted the objection");
    const attachment = page.locator("a[href*='/attachments/']");
    check((await attachment.innerText()).includes("营业执照照片.png"), "the handler sees the attached file");
    const file = await context.request.get(base + (await attachment.getAttribute("href")));
    check(file.status() === 200 && file.headers()["content-type"] === "image/png", `the handler opens it (${file.status()})`);
    violations = await axeViolations(page);
    check(violations.length === 0, `console objection: axe: ${violations.join("; ")}`);
    await shot(page, "standard-console-objection");

    const publicPage = await context.newPage();
    await publicPage.goto(`${base}/verify?id=${encodeURIComponent(license)}`);
    const flag = publicPage.locator("#objection-flag");
    check((await flag.count()) === 1 && (await flag.innerText()).includes("经营范围"), "the verify page shows the objection flag");
    await shot(publicPage, "standard-verify-under-objection");

    await page.check("#outcome-kept");
    await page.fill("#finding", "经营范围与登记一致");
    await navigating(page, () => page.click("form[action$='/decide'] button[type=submit]"));
    check((await page.locator("#state").innerText()).includes("维持原登记"), "the console decided: kept");
    await page.fill("#text", "经核查，经营范围与登记一致，维持原登记。");
    await navigating(page, () => page.click("form[action$='/answer'] button[type=submit]"));
    check((await page.locator("#state").innerText()).includes("已答复"), "the console answered");
    await publicPage.goto(`${base}/verify?id=${encodeURIComponent(license)}`);
    check((await publicPage.locator("#objection-flag").count()) === 0, "the flag goes with the decision");
    await publicPage.goto(base + "/objections/track");
    await publicPage.fill("#ticket", ticket);
    await publicPage.fill("#tracking_code", code);
    await navigating(publicPage, () => publicPage.click("form button[type=submit]"));
    check((await publicPage.locator("main").innerText()).includes("维持原登记"), "the applicant reads the answer");
    await context.close();
  }
} catch (e) {
  failures.push(`the run stopped: ${e.stack ?? e}`);
  console.error(e);
} finally {
  if (browser) await browser.close();
  child.kill("SIGTERM");
  idp.child.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}

console.log(`browser tests: ${checks} checks, ${failures.length} failed; screenshots in ${ARTIFACTS}`);
process.exit(failures.length === 0 ? 0 : 1);
