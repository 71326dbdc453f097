// SPDX-License-Identifier: MIT
// web_test.mjs - drives Banter's web interface in headless Chromium, one
// browser per test host (tests/integration/test_web.sh sets the scene):
//   node web_test.mjs PHASE
// Phases:
//   chat      alice and bob open their pages; each sees the other appear;
//             messages both ways (Enter, Shift+Enter, links, delivered,
//             unread), keyboard only; a file by the picker and one dropped,
//             progress to done on both sides, accept and decline; broadcast;
//             settings (dark theme, text size) kept by the node; screenshots
//   hostile   pages of other origins (another port of 127.0.0.1, another
//             site) try fetch, WebSocket and upload against alice's node
//   keychange bob came back with a new key: alice's page warns, shows the
//             fingerprints and bob's devices, marks what the new key said
//             (kept, and arriving live) unverified, and after "trust the
//             new key" sends again and shows bob's words unmarked
//   contacts  (with a rendezvous) carol asks alice; alice accepts in her page
// Environment: URL_A, URL_B (addresses with the key), NS_A, NS_B (a PID in
// each host's network namespace), WORK (scratch folder), SHOTS (folder for
// screenshots, optional), URL_C/NS_C for contacts; BANTER_BIN and HOME_B
// (bob's node, for the CLI) and OLD_FP_B/NEW_FP_B for keychange.
// Prints PASS/FAIL lines; exits 1 on the first failure (with a screenshot
// of every page in WORK).
import { chromium } from 'playwright-core';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';

const here = path.dirname(fileURLToPath(import.meta.url));
const env = process.env;
const WORK = env.WORK || '/tmp';
const SHOTS = env.SHOTS || '';
const phase = process.argv[2] || 'chat';
const browsers = [];
const pages = {};

function pass(what) {
  console.log(`PASS: web ${phase}: ${what}`);
}

class Failure extends Error {}
function check(ok, what) {
  if (!ok) throw new Failure(what);
}

async function until(what, fn, ms = 10000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Failure(`${what} (waited ${ms} ms; last: ${last})`);
}

async function open(name, url, ns, opts = {}) {
  const browser = await chromium.launch({
    executablePath: path.join(here, 'chromium-netns.sh'),
    env: { ...env, BANTER_NETNS_PID: ns },
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-dev-shm-usage'],
  });
  browsers.push(browser);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...opts });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`${name}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') console.log(`${name}: console: ${m.text()}`);
  });
  pages[name] = page;
  if (url) await page.goto(url);
  return page;
}

async function shot(page, file) {
  if (!SHOTS) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, file), animations: 'disabled' });
}

const contact = (page, name) => page.locator('#contact-list .contact', { hasText: name });
const bubbles = (page) => page.locator('#messages li.msg');

async function openChat(page, name) {
  await until(`${name} listed`, () => contact(page, name).count());
  await contact(page, name).first().click();
  await until(`conversation with ${name} open`, async () =>
    (await page.locator('#conv-name').textContent()).includes(name));
}

async function lastOut(page) {
  return page.locator('#messages li.msg.out').last();
}

// ---------------------------------------------------------------- chat

async function phaseChat() {
  const a = await open('alice', env.URL_A, env.NS_A);
  const b = await open('bob', env.URL_B, env.NS_B);
  check(!a.url().includes('t='), `the key left the address bar (${a.url().replace(/t=\w+/, 't=…')})`);
  check((await a.locator('#me-name').textContent()) === 'alice', 'alice sees her name');
  pass('both pages open; the key is not left in the address bar');

  await until('alice sees bob appear online', async () =>
    (await contact(a, 'bob').getAttribute('aria-label') || '').includes('online'));
  await until('bob sees alice appear online', async () =>
    (await contact(b, 'alice').getAttribute('aria-label') || '').includes('online'));
  pass('each page shows the other node, online');

  // Keyboard only: Ctrl+K, arrow down to bob, Enter, type, Enter.
  await a.keyboard.press('Control+k');
  check(await a.evaluate(() => document.activeElement.id === 'search'), 'Ctrl+K focuses search');
  await a.keyboard.press('ArrowDown');
  await a.keyboard.press('Enter');
  await until('bob opened by keyboard', async () =>
    (await a.locator('#conv-name').textContent()).includes('bob'));
  check(await a.evaluate(() => document.activeElement.id === 'composer-text'), 'the message box has focus');
  const t0 = Date.now();
  await a.keyboard.type('Hello Bob, the notes: https://example.org/notes?id=7');
  await a.keyboard.press('Enter');
  await until('alice sees her message delivered', async () =>
    (await (await lastOut(a)).locator('.state').textContent()).includes('delivered'));
  pass(`message sent with the keyboard only, delivered in ${Date.now() - t0} ms`);

  // "Why can't I reach…?": the doctor request for bob, his route shown.
  await a.locator('#doctor-open').click();
  await until('the doctor panel names bob online by lan', async () =>
    (await a.locator('#doctor-checks').textContent()).includes('bob is online, reached by lan'));
  check(await a.locator('#doctor-checks li.check-ok').count() >= 1, 'an ok check is marked');
  check((await a.locator('#doctor-checks').textContent()).includes('no rendezvous configured'),
    'the rendezvous check says none is configured');
  await a.locator('#doctor button[type=submit]').click();
  await until('the doctor panel closes', async () => !(await a.locator('#doctor').isVisible()));
  pass('"Why can\'t I reach…?" shows the checks for bob');

  await until('bob sees 1 unread from alice', async () =>
    (await contact(b, 'alice').getAttribute('aria-label')).includes('1 unread'));
  await openChat(b, 'alice');
  const inMsg = b.locator('#messages li.msg.in').last();
  await until('bob sees the message', async () => (await inMsg.textContent()).includes('Hello Bob'));
  const href = await inMsg.locator('a').getAttribute('href');
  check(href === 'https://example.org/notes?id=7', `the URL is a link (${href})`);
  check((await inMsg.locator('a').getAttribute('rel')).includes('noopener'), 'links open without opener');
  await until('the unread count clears', async () =>
    !(await contact(b, 'alice').getAttribute('aria-label')).includes('unread'));
  pass('the message arrives in bob\'s page, its URL clickable; unread counted then cleared');

  const box = b.locator('#composer-text');
  await box.click();
  await b.keyboard.type('first line');
  await b.keyboard.press('Shift+Enter');
  await b.keyboard.type('second line <b>not bold</b>');
  check((await bubbles(b).count()) === 1, 'Shift+Enter did not send');
  await b.keyboard.press('Enter');
  const got = a.locator('#messages li.msg.in').last();
  await until('alice gets the two-line reply', async () => (await got.textContent()).includes('second line'));
  const body = await got.locator('.body').evaluate((e) => ({ text: e.textContent, bold: e.querySelectorAll('b').length }));
  check(body.text === 'first line\nsecond line <b>not bold</b>' && body.bold === 0,
    `Shift+Enter makes a new line; markup stays text (${JSON.stringify(body)})`);
  pass('Shift+Enter starts a new line, Enter sends; HTML in a message is shown as text');

  // A file by the picker: progress to done on both sides.
  const file = path.join(WORK, 'report.bin');
  await a.setInputFiles('#file-input', file);
  const offerB = b.locator('#messages li.xfer.in').last();
  await until('bob sees the offer', async () => (await offerB.textContent()).includes('report.bin'));
  await shot(b, 'file-offer.png');
  await offerB.getByRole('button', { name: 'Accept report.bin' }).click();
  const cardA = a.locator('#messages li.xfer.out', { hasText: 'report.bin' }).last();
  await until('bob: received, 100%', async () =>
    (await offerB.locator('.state').textContent()) === 'received' &&
    (await offerB.locator('progress').getAttribute('value')) === '100', 60000);
  await until('alice: delivered, 100%', async () =>
    (await cardA.locator('.state').textContent()).startsWith('delivered') &&
    (await cardA.locator('progress').getAttribute('value')) === '100', 20000);
  pass(`a file chosen with the picker: progress reached done on both pages`);
  await shot(b, 'file-transfer.png');

  // A dropped file, declined by bob.
  await a.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(300000).fill(7)], 'dropped.bin'));
    const conv = document.getElementById('conv');
    conv.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true }));
    conv.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  const drop = b.locator('#messages li.xfer.in', { hasText: 'dropped.bin' });
  await until('bob sees the dropped file offered', () => drop.count());
  await drop.getByRole('button', { name: 'Decline dropped.bin' }).click();
  const dropA = a.locator('#messages li.xfer.out', { hasText: 'dropped.bin' });
  await until('alice sees it declined', async () =>
    (await dropA.locator('.state').textContent()).startsWith('declined'));
  pass('a dropped file is offered; bob declines it; alice sees declined');
  await b.locator('#composer-text').fill('Got the report, thanks! Reading it before the stand-up.');
  await b.keyboard.press('Enter');
  await until('alice gets bob\'s thanks', async () =>
    (await a.locator('#messages li.msg.in').last().textContent()).includes('Got the report'));
  await shot(a, 'conversation-light.png');

  // Broadcast.
  await a.click('#broadcast-open');
  await a.fill('#broadcast-text', 'Stand-up in 5 minutes');
  await a.getByRole('button', { name: 'Send to everyone' }).click();
  await until('bob gets the broadcast', async () =>
    (await b.locator('#messages li.msg.in').last().textContent()).includes('Stand-up in 5 minutes'));
  check((await b.locator('#messages li.msg.in').last().locator('.tag').textContent()).includes('broadcast'), 'marked broadcast');
  pass('broadcast reaches bob, marked as such');

  // Settings: dark theme and text size, kept by the node.
  await a.click('#settings-open');
  await a.check('input[name="theme"][value="dark"]');
  // The node's answer to the theme change (and its settings event) sets
  // every control to what the node has: a size typed before that arrives
  // is put back to 15. Type it again until the node has it.
  await until('the text size is taken', async () => {
    const saved = env.SETTINGS_A ? JSON.parse(fs.readFileSync(env.SETTINGS_A, 'utf8')) : null;
    if (saved && saved.theme === 'dark' && saved.font_size === 17) return true;
    if ((await a.locator('#font-size').inputValue()) !== '17' || !saved) {
      await a.locator('#font-size').fill('17');
      await a.locator('#font-size').dispatchEvent('change');
    }
    return !saved;
  });
  await a.keyboard.press('Escape');
  await until('dark theme applied', async () =>
    (await a.evaluate(() => document.documentElement.dataset.theme)) === 'dark');
  // The page shows a change at once and sends it after what it has in
  // flight: reload only once the node has it (else the reload may win).
  if (env.SETTINGS_A) {
    let saved = '';
    try {
      await until('the node saved the theme', async () => {
        saved = fs.readFileSync(env.SETTINGS_A, 'utf8');
        const v = JSON.parse(saved);
        return v.theme === 'dark' && v.font_size === 17;
      });
    } catch (err) {
      console.log(`settings.json: ${saved.replace(/\s+/g, ' ')}; the page shows ` +
        await a.evaluate(() => [document.documentElement.dataset.theme,
          document.getElementById('font-size').value, document.body.innerText.slice(-300)].join(' | ')));
      throw err;
    }
  }
  await a.reload();
  try {
    await until('dark theme after a reload', async () =>
      (await a.evaluate(() => [document.documentElement.dataset.theme,
        getComputedStyle(document.documentElement).getPropertyValue('--font-size').trim()].join(' '))) === 'dark 17px');
  } catch (err) {
    console.log('after the reload the page shows ' + await a.evaluate(() => [document.documentElement.dataset.theme,
      getComputedStyle(document.documentElement).getPropertyValue('--font-size').trim(),
      document.body.innerText.replace(/\s+/g, ' ').slice(0, 400)].join(' | ')));
    throw err;
  }
  pass('dark theme and text size are kept by the node across a reload');
  await openChat(a, 'bob');
  await shot(a, 'conversation-dark.png');
}

// ------------------------------------------------------------- hostile

async function phaseHostile() {
  const key = new URL(env.URL_A).searchParams.get('t');
  const port = new URL(env.URL_A).port;
  const target = `http://127.0.0.1:${port}`;
  const evilPage = (origin) => `<!DOCTYPE html><title>evil</title><script>
    window.results = {};
    const T = ${JSON.stringify(target)}, K = ${JSON.stringify(key)};
    (async () => {
      try { const r = await fetch(T + '/', { credentials: 'include' }); results.read = r.status; }
      catch (e) { results.read = 'blocked'; }
      try { await fetch(T + '/upload?peer=bob&name=x.bin', { method: 'POST', mode: 'no-cors',
        credentials: 'include', body: 'stolen' }); results.post = 'sent'; }
      catch (e) { results.post = 'blocked'; }
      results.ws = await new Promise((res) => {
        let ws;
        try { ws = new WebSocket('ws://127.0.0.1:${port}/ws?t=' + K); }
        catch (e) { res('blocked'); return; }
        ws.onopen = () => { ws.send('{"cmd":"peers"}'); };
        ws.onmessage = (m) => res('OPEN: ' + m.data.slice(0, 40));
        ws.onerror = () => res('refused');
        setTimeout(() => res('timeout'), 5000);
      });
      results.done = true;
    })();
  </script>`;
  for (const origin of [`http://127.0.0.1:${Number(port) + 50}`, 'http://evil.example']) {
    const page = await open(`evil ${origin}`, null, env.NS_A);
    await page.route(`${origin}/**`, (route) =>
      route.fulfill({ status: 200, contentType: 'text/html', body: evilPage(origin) }));
    await page.goto(`${origin}/`);
    const r = await until(`the page at ${origin} finished`, () =>
      page.evaluate(() => window.results && window.results.done && window.results));
    check(r.read === 'blocked', `${origin}: fetch of the page is not readable (${r.read})`);
    check(r.ws === 'refused', `${origin}: the WebSocket is refused even with the key (${r.ws})`);
    pass(`a page at ${origin} can neither read the page nor open the WebSocket (even knowing the key)`);
  }

  // Bad frames on a real WebSocket of the page's own origin.
  const a = await open('alice', env.URL_A, env.NS_A);
  const r = await a.evaluate(async (k) => {
    const frames = (send) => new Promise((resolve) => {
      const ws = new WebSocket(`ws://${location.host}/ws?t=${k}`);
      const got = [];
      ws.onopen = () => send(ws);
      ws.onmessage = (m) => got.push(JSON.parse(m.data).error || 'ok');
      ws.onclose = (e) => resolve({ got, code: e.code });
      setTimeout(() => { ws.close(); }, 3000);
    });
    return {
      bad: await frames((ws) => { ws.send('not json'); ws.send('[1]'); ws.send('{"x":1}');
        ws.send('{"cmd":"nope"}'); ws.send('{"cmd":"id"}'); }),
      big: await frames((ws) => ws.send(`{"cmd":"id","pad":"${'x'.repeat(70000)}"}`)),
      binary: await frames((ws) => ws.send(new Uint8Array([1, 2, 3]))),
    };
  }, new URL(env.URL_A).searchParams.get('t'));
  check(JSON.stringify(r.bad.got) === '["EJSON","EJSON","ESCHEMA","EBADTYPE","ok"]',
    `bad requests get their errors and the WebSocket stays open (${JSON.stringify(r.bad)})`);
  check(r.big.code !== 1000 && r.big.code !== 1005, `a request over 64 KiB closes the WebSocket (${JSON.stringify(r.big)})`);
  check(r.binary.code === 1003, `a binary frame closes the WebSocket (${JSON.stringify(r.binary)})`);
  pass(`bad frames: EJSON, ESCHEMA, EBADTYPE answered; over 64 KiB closed (${r.big.code}); binary closed (1003)`);
}

// ----------------------------------------------------------- key change

async function phaseKeychange() {
  const a = await open('alice', env.URL_A, env.NS_A);
  await until('alice lists bob with a changed key', async () =>
    (await contact(a, 'bob').getAttribute('aria-label') || '').includes('key changed'));
  await openChat(a, 'bob');
  const warn = a.locator('#keywarn');
  await until('the warning shows', () => warn.isVisible());
  const text = await warn.textContent();
  check(text.includes('key has changed') && text.includes(env.OLD_FP_B) && text.includes(env.NEW_FP_B),
    'the warning shows the old and the new fingerprint');
  check(await a.locator('#composer-text').isDisabled(), 'sending is paused');
  // What the new key said (before the page opened, and while it is open)
  // is marked, never shown as bob's own words.
  const bubble = (text) => a.locator('#messages li.msg.in', { hasText: text }).last();
  const marked = async (text) => {
    const li = bubble(text);
    return (await li.getAttribute('class') || '').includes('unverified') &&
      (await li.locator('.tag.unverified').textContent()).includes('unverified') &&
      (await li.locator('.visually-hidden, .from').first().textContent()).includes('unverified device');
  };
  await until('the kept message is marked unverified', () => marked('I have a new laptop'));
  const bobSays = (text) => execFileSync(env.BANTER_BIN, ['--home', env.HOME_B, 'send', 'alice', text], { timeout: 20000 });
  bobSays('this is really me');
  await until('a live message from the new key is marked unverified', () => marked('this is really me'));
  const devs = a.locator('#conv-devices');
  check(await devs.isVisible(), "bob's devices are listed");
  const devText = await devs.textContent();
  check(devText.includes(env.NEW_FP_B) && devText.includes('new key, not checked'),
    `the new key is listed as not checked (${devText})`);
  pass('what the new key says is marked unverified (kept and live); its device is listed by fingerprint as not checked');
  check((await a.evaluate(() => document.documentElement.dataset.theme)) === 'dark',
    'a new browser gets the settings from the node (dark)');
  pass('key change: warning with the old and new fingerprints; sending paused');
  await shot(a, 'key-change.png');
  await warn.getByRole('button', { name: /trust the new key/ }).click();
  await until('the warning goes away', async () => !(await warn.isVisible()));
  await a.locator('#composer-text').fill('Welcome back, bob');
  await a.keyboard.press('Enter');
  await until('delivered to the new key', async () =>
    (await (await lastOut(a)).locator('.state').textContent()).includes('delivered'));
  pass('after "trust the new key" messages go to bob again');
  bobSays('checked now');
  await until("bob's words after the check arrive", async () => (await bubble('checked now').count()) === 1);
  check(!(await marked('checked now')) && (await bubble('checked now').locator('.tag.unverified').count()) === 0,
    'after the check what bob says is not marked');
  check(await marked('I have a new laptop'), 'what came before the check stays marked');
  check(!(await a.locator('#conv-devices').textContent()).includes('not checked'),
    'the devices line no longer says "not checked"');
  pass('after the check bob\'s words come unmarked; what came before stays marked');
}

// ------------------------------------------------------------ contacts

async function phaseContacts() {
  const a = await open('alice', env.URL_A, env.NS_A);
  await until('the request pane is shown', () => a.locator('#requests').isVisible());
  const req = a.locator('#request-list li.request', { hasText: env.REQ_FROM });
  await until(`${env.REQ_FROM}'s request listed`, () => req.count(), 15000);
  await shot(a, 'contact-requests.png');
  // carol's display name is "BOB", a LAN colleague's name: the request
  // names her account, and after it the list marks both as the same name.
  const reqText = await req.textContent();
  check(reqText.includes('BOB') && reqText.includes(`@${env.REQ_FROM}`),
    `the request shows the display name with the account (@${env.REQ_FROM}): ${reqText}`);
  await req.getByRole('button', { name: /^Accept/ }).click();
  await until(`${env.REQ_FROM} becomes a contact`, async () => (await contact(a, env.REQ_FROM).count()) > 0 &&
    (await a.locator('#request-list li.request', { hasText: env.REQ_FROM }).count()) === 0, 15000);
  pass(`a contact request from ${env.REQ_FROM} accepted in the page`);
  await until('the same name is marked on both contacts', async () => {
    const both = a.locator('#contact-list .contact', { hasText: 'same name' });
    return (await both.count()) === 2 &&
      (await contact(a, `@${env.REQ_FROM}`).count()) === 1 &&
      (await contact(a, env.REQ_FROM).getAttribute('aria-label') || '').includes('another contact has the same name');
  }, 15000);
  pass(`${env.REQ_FROM}, calling herself BOB, is shown with @${env.REQ_FROM}; she and the LAN colleague bob are both marked "same name"`);
  await openChat(a, env.REQ_FROM);
  await a.locator('#composer-text').fill('Hello Carol, welcome aboard');
  await a.keyboard.press('Enter');
  await until('the message to the contact is delivered or stored', async () =>
    /delivered|stored/.test(await (await lastOut(a)).locator('.state').textContent()), 15000);
  pass(`a message to ${env.REQ_FROM} through the server`);

  // The organisation's policy the server signed, shown read-only in the settings.
  await a.click('#settings-open');
  await until('the policy is shown', async () => await a.locator('#policy').isVisible() &&
    (await a.locator('#policy-rules').textContent()).includes('Files up to 5 MB'));
  check((await a.locator('#policy-rules').textContent()).includes('Every file must be accepted by hand'),
    'auto-accept forbidden shown');
  await a.keyboard.press('Escape');
  pass('the organisation\'s policy is shown in the settings');

  // An announcement of the organisation (banter-admin announce): a banner,
  // read once it is on screen (the test checks the server's report).
  if (env.ANN_TEXT) {
    const n = a.locator('#org-notices .org-notice', { hasText: env.ANN_TEXT });
    await until('the announcement is shown', async () => (await n.count()) > 0, 15000);
    await shot(a, 'announcement.png');
    await n.getByRole('button', { name: 'Dismiss' }).click();
    await until('the announcement is dismissed', async () => (await n.count()) === 0);
    pass('the organisation\'s announcement is shown in a banner and can be dismissed');
  }
}

// -------------------------------------------------------------- groups

async function phaseGroups() {
  const a = await open('alice', env.URL_A, env.NS_A);
  const b = await open('bob', env.URL_B, env.NS_B);
  await a.locator('#group-new').click();
  await a.locator('#group-name').fill('web team');
  await a.locator('#group-add').fill('bob');
  await a.locator('#group-ok').click();
  await until('alice is in the new group', async () =>
    (await a.locator('#conv-name').textContent()).includes('web team'));
  const group = (page) => page.locator('#group-list .contact', { hasText: 'web team' });
  await until('bob lists the group', () => group(b).count(), 15000);
  pass('a group made in the page (name, a member) is listed at the member\'s page');
  await a.locator('#composer-text').fill('hello group from the page');
  await a.keyboard.press('Enter');
  await until('bob is told of one unread message', async () =>
    (await group(b).getAttribute('aria-label') || '').includes('1 unread'), 15000);
  await group(b).click();
  const got = b.locator('#messages li.msg.in', { hasText: 'hello group from the page' });
  await until('bob reads it with its sender', async () => (await got.count()) === 1 &&
    (await got.locator('.from').textContent()).length > 0);
  await until('alice sees it delivered to 1 of 1', async () => {
    const out = a.locator('#messages li.msg.out', { hasText: 'hello group from the page' });
    return (await out.textContent()).includes('delivered to 1 of 1');
  }, 15000);
  await shot(a, 'group.png');
  pass('a group message: unread at the member, shown with its sender, "delivered to 1 of 1" at the sender');
  await b.locator('#search').fill('hello group');
  const hit = b.locator('#found-list .contact', { hasText: 'web team' });
  await until('the search finds the group message', () => hit.count());
  await b.locator('#search').fill('');
  await b.locator('#search').fill('hello group');
  await until('the search finds it again', () => hit.count());
  await hit.first().click();
  await until('the conversation opens at the message', async () =>
    (await b.locator('#conv-name').textContent()).includes('web team') &&
    (await b.locator('#messages li.msg.found').count()) === 1);
  pass('the search box finds a group message; the result opens the group at that message');

  // A file chosen in the group's conversation: offered to each other
  // member, shown in that member's conversation with the sender.
  const plan = path.join(WORK, 'group-plan.txt');
  fs.writeFileSync(plan, 'the plan, for everyone in the group\n'.repeat(1000));
  await a.locator('#group-list .contact', { hasText: 'web team' }).click();
  await a.setInputFiles('#file-input', plan);
  await until('alice is told it was offered to 1 of 1 members', async () =>
    (await a.locator('.toast', { hasText: 'group-plan.txt offered to 1 of 1 members' }).count()) > 0);
  await b.locator('#search').fill(''); // the list shows every contact again
  await contact(b, 'alice').click();
  const offer = b.locator('#messages li.xfer.in', { hasText: 'group-plan.txt' });
  await until('bob is offered the group file', () => offer.count(), 15000);
  await offer.getByRole('button', { name: 'Accept group-plan.txt' }).click();
  await until('bob: received, 100%', async () =>
    (await offer.locator('.state').textContent()) === 'received' &&
    (await offer.locator('progress').getAttribute('value')) === '100', 60000);
  pass('a file chosen in a group conversation is offered to each other member, who accepts it');

  // bob deletes the group from his page (its dialog; a second click
  // confirms): gone from his list; alice's page sees him leave.
  await group(b).click();
  await b.locator('#group-manage').click();
  await b.locator('#group-delete').click();
  await until('the delete asks to be confirmed', async () =>
    (await b.locator('#group-delete').textContent()).includes('history'));
  await b.locator('#group-delete').click();
  await until('bob no longer lists the group', async () => (await group(b).count()) === 0, 15000);
  await until('alice sees bob leave', async () =>
    (await group(a).getAttribute('aria-label') || '').includes('1 members'), 15000);
  pass('bob deletes the group in his page (confirmed): gone from his list; alice sees him leave');
}

const phases = { chat: phaseChat, hostile: phaseHostile, keychange: phaseKeychange, contacts: phaseContacts, groups: phaseGroups };

let code = 0;
try {
  if (!phases[phase]) throw new Failure(`unknown phase ${phase}`);
  await phases[phase]();
} catch (err) {
  code = 1;
  console.log(`FAIL: web ${phase}: ${err instanceof Failure ? err.message : err.stack}`);
  for (const [name, page] of Object.entries(pages)) {
    try {
      await page.screenshot({ path: path.join(WORK, `fail-${phase}-${name.replace(/\W+/g, '_')}.png`) });
    } catch (e) {
      // the page is gone
    }
  }
}
for (const b of browsers) await b.close().catch(() => {});
process.exit(code);
