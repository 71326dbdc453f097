// SPDX-License-Identifier: MIT
// Banter's web interface. It speaks the node's control protocol
// (docs/control.md) over a WebSocket: one JSON request per frame, one reply
// or event per frame; nothing else. Plain JavaScript, no framework.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const KEY_STORE = 'banter.key';
  const HISTORY_LIMIT = 300;
  const ACK_EVERY = 32; // frames between acknowledgements on a WebSocket

  const state = {
    token: null,
    me: { name: '', fingerprint: '' },
    settings: { theme: 'system', font_size: 15, sound: true, notify: false, read: {} },
    rdv: { configured: false },
    peers: new Map(), // conversation key -> peer (see keyOf)
    contacts: [], // rendezvous contacts, from `contacts`
    convs: new Map(), // key -> { messages: [], loaded: bool }
    transfers: new Map(), // id -> transfer
    uploads: new Map(), // local id -> { name, size, sent, key, error }
    groups: new Map(), // "g:" + group id -> group (groups, group_members)
    current: null,
    search: '',
    ready: false,
  };

  // ---------------------------------------------------------------- the key

  // The address `banter open` gives carries the key (?t=...). It is kept in
  // this origin's localStorage (per port) and removed from the address bar.
  function takeKey() {
    const url = new URL(window.location.href);
    const t = url.searchParams.get('t');
    if (t) {
      localStorage.setItem(KEY_STORE, t);
      url.searchParams.delete('t');
      window.history.replaceState(null, '', url.pathname + url.search + url.hash);
      return t;
    }
    return localStorage.getItem(KEY_STORE);
  }

  function showLock(text) {
    if (text) $('lock-text').textContent = text;
    $('app').hidden = true;
    $('lock').hidden = false;
  }

  // ---------------------------------------------------------- the channels

  // One WebSocket = one control client: requests are answered in order, one
  // at a time; frames with "event" are events.
  class Channel {
    constructor(name, onEvent) {
      this.name = name;
      this.onEvent = onEvent;
      this.queue = [];
      this.inflight = null;
      this.ws = null;
      this.open = false;
      this.retry = 500;
      this.onopen = null;
      this.onclose = null;
    }

    connect() {
      if (this.stopped) return;
      const ws = new WebSocket(`ws://${window.location.host}/ws?t=${encodeURIComponent(state.token)}`);
      this.ws = ws;
      ws.onopen = () => {
        this.open = true;
        this.retry = 500;
        if (this.onopen) this.onopen();
        this.pump();
      };
      this.received = 0;
      ws.onmessage = (e) => {
        // The node drops a page that leaves over 1024 frames unacknowledged
        // (docs/web.md): say every ACK_EVERY how many have arrived.
        this.received += 1;
        if (this.received % ACK_EVERY === 0 && ws.readyState === WebSocket.OPEN) {
          ws.send(JSON.stringify({ ack: this.received }));
        }
        this.receive(e.data);
      };
      ws.onclose = () => this.closed();
    }

    receive(text) {
      let m;
      try {
        m = JSON.parse(text);
      } catch (err) {
        return;
      }
      if (typeof m.event === 'string') {
        this.onEvent(m);
        return;
      }
      const r = this.inflight;
      this.inflight = null;
      if (r) r.resolve(m);
      this.pump();
    }

    closed() {
      const was = this.open;
      this.open = false;
      const lost = { ok: false, error: 'ENOTCONN', message: 'lost the connection to the node' };
      if (this.inflight) this.inflight.resolve(lost);
      this.inflight = null;
      for (const q of this.queue.splice(0)) q.resolve(lost);
      if (this.onclose) this.onclose(was);
      window.setTimeout(() => this.connect(), this.retry);
      this.retry = Math.min(this.retry * 2, 10000);
    }

    request(obj) {
      return new Promise((resolve) => {
        this.queue.push({ obj, resolve });
        this.pump();
      });
    }

    pump() {
      if (!this.open || this.inflight || this.queue.length === 0) return;
      this.inflight = this.queue.shift();
      this.ws.send(JSON.stringify(this.inflight.obj));
    }
  }

  let main; // listens; quick requests
  let slow; // requests that wait for the rendezvous server

  // ------------------------------------------------------------- utilities

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }

  // Icons: 24x24 strokes in the current colour (no icon font, no emoji).
  const ICONS = {
    file: 'M14 3H6a1 1 0 0 0-1 1v16a1 1 0 0 0 1 1h12a1 1 0 0 0 1-1V8zM14 3v5h5',
    folder: 'M3 6a1 1 0 0 1 1-1h5l2 2h9a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1z',
    warning: 'M12 3 2 20h20zM12 9v5M12 17v.5',
    check: 'M5 12l5 5L20 7',
    clock: 'M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM12 7v5l3 2',
    broadcast: 'M3 11v2a1 1 0 0 0 1 1h2l5 4V6L6 10H4a1 1 0 0 0-1 1zM15 9a4 4 0 0 1 0 6M18 6a8 8 0 0 1 0 12',
  };

  function icon(name) {
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('class', `icon icon-${name}`);
    svg.setAttribute('aria-hidden', 'true');
    const p = document.createElementNS(ns, 'path');
    p.setAttribute('d', ICONS[name]);
    svg.append(p);
    return svg;
  }

  function toast(text, error) {
    const t = el('div', { class: error ? 'toast error' : 'toast', text });
    $('toasts').append(t);
    window.setTimeout(() => t.remove(), error ? 8000 : 4000);
  }

  function announce(text) {
    $('announce').textContent = '';
    window.setTimeout(() => { $('announce').textContent = text; }, 50);
  }

  function hue(s) {
    let h = 0;
    for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) % 360;
    return h;
  }

  function initials(name) {
    const parts = name.trim().split(/[\s._-]+/).filter(Boolean);
    if (parts.length === 0) return '?';
    return (parts[0][0] + (parts.length > 1 ? parts[1][0] : '')).toUpperCase();
  }

  // The colour follows the name, so a colleague keeps it across a new key.
  function avatar(node, name, seed, status) {
    node.textContent = initials(name);
    node.style.setProperty('--avatar', `hsl(${hue(name || seed)} 55% 45%)`);
    if (status) node.append(el('span', { class: `dot ${status}` }));
  }

  function size(n) {
    const units = ['B', 'kB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (n >= 1000 && i < units.length - 1) {
      n /= 1000;
      i++;
    }
    return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
  }

  const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
  const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long' });

  function dayLabel(ms) {
    const d = new Date(ms);
    const today = new Date();
    const yesterday = new Date(Date.now() - 86400000);
    if (d.toDateString() === today.toDateString()) return 'Today';
    if (d.toDateString() === yesterday.toDateString()) return 'Yesterday';
    return dayFmt.format(d);
  }

  function debounce(fn, ms) {
    let t = 0;
    return (...a) => {
      window.clearTimeout(t);
      t = window.setTimeout(() => fn(...a), ms);
    };
  }

  // -------------------------------------------------------------- settings

  const darkQuery = window.matchMedia('(prefers-color-scheme: dark)');

  function applyTheme() {
    const t = state.settings.theme;
    const dark = t === 'dark' || (t === 'system' && darkQuery.matches);
    document.documentElement.dataset.theme = dark ? 'dark' : 'light';
  }

  function applySettings(s) {
    if (!s) return;
    state.settings = Object.assign(state.settings, s);
    applyTheme();
    document.documentElement.style.setProperty('--font-size', `${state.settings.font_size}px`);
    for (const r of document.querySelectorAll('input[name="theme"]'))
      r.checked = r.value === state.settings.theme;
    $('font-size').value = String(state.settings.font_size);
    $('font-size-out').textContent = `${state.settings.font_size} px`;
    $('sound').checked = !!state.settings.sound;
    $('notify').checked = !!state.settings.notify;
    renderContacts();
  }

  async function saveSettings(changes) {
    applySettings(changes);
    const r = await main.request({ cmd: 'settings_set', settings: changes });
    if (!r.ok) toast(r.message || 'the settings were not saved', true);
  }

  // ---------------------------------------------------------------- sound

  let audio = null;
  function beep() {
    try {
      if (!audio) audio = new AudioContext();
      const now = audio.currentTime;
      [880, 1320].forEach((f, i) => {
        const o = audio.createOscillator();
        const g = audio.createGain();
        o.frequency.value = f;
        g.gain.setValueAtTime(0.0001, now + i * 0.12);
        g.gain.exponentialRampToValueAtTime(0.15, now + i * 0.12 + 0.02);
        g.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.12 + 0.18);
        o.connect(g).connect(audio.destination);
        o.start(now + i * 0.12);
        o.stop(now + i * 0.12 + 0.2);
      });
    } catch (err) {
      // no audio here: nothing to do
    }
  }

  // ---------------------------------------------------------------- peers

  // A conversation is keyed by the contact's id (the node's handle of a
  // person, whatever devices they use); requests name it as "#id".
  function keyOf(p) {
    return p.id || p.fingerprint;
  }

  function peerArg(key) {
    return /^[0-9a-f]{64}$/.test(key) ? `#${key}` : key;
  }

  function displayName(p) {
    return p.display_name || p.name || p.user || (p.fingerprint || '').slice(0, 11);
  }

  // The name as compared: what two names that look alike share (case,
  // width, invisible characters do not count). The node sends each peer's
  // folded by its own rule ("fold"); this is for names it did not fold: the
  // same steps (NFKC, default-ignorables and tag characters dropped, white
  // space collapsed, full case folding as upper then lower case: "ß" and
  // "SS" fold alike).
  // Letters of other scripts drawn like Latin ones, compared as those
  // (the node's table, peer/core/contacts.c look_alike).
  const LOOK_ALIKE = {
    '\u0131': 'i', '\u0251': 'a', '\u0261': 'g', '\u03b1': 'a', '\u03b9': 'i', '\u03ba': 'k',
    '\u03bf': 'o', '\u03c1': 'p', '\u03c7': 'x', '\u0430': 'a', '\u0435': 'e', '\u043e': 'o',
    '\u0440': 'p', '\u0441': 'c', '\u0443': 'y', '\u0445': 'x', '\u0455': 's', '\u0456': 'i',
    '\u0458': 'j', '\u04bb': 'h', '\u04cf': 'l', '\u0501': 'd', '\u051b': 'q', '\u051d': 'w',
  };

  function foldName(s) {
    return (s || '').normalize('NFKC')
      .replace(/[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\u{1bca0}-\u{1bca3}\u{1d173}-\u{1d17a}\u{e0000}-\u{e0fff}]/gu, '')
      .replace(/\s+/g, ' ').trim().toUpperCase().toLowerCase()
      .replace(/[\u0131\u0251\u0261\u03b1-\u03c7\u0430-\u0458\u04bb\u04cf\u0501\u051b\u051d]/gu, (c) => LOOK_ALIKE[c] || c);
  }

  // A peer's shown name as the node compares it.
  function peerFold(p) {
    return typeof p.fold === 'string' && p.fold ? p.fold : foldName(displayName(p));
  }

  // What tells a person apart from whoever chose the same display name:
  // the organisation account (@name), else the fingerprint's first digits.
  function handleOf(p) {
    if (p.org && p.org.account) return `@${p.org.account}`;
    return p.fingerprint ? `key ${p.fingerprint.slice(0, 5)}` : '';
  }

  function presence(p) {
    if (p.status && p.status !== 'offline') return p.status;
    return p.online ? 'online' : 'offline';
  }

  async function loadPeers() {
    const r = await main.request({ cmd: 'peers' });
    if (!r.ok) return;
    const next = new Map();
    // One entry per contact (its devices inside). Organisation accounts
    // are listed once they are approved contacts (the others are in the
    // requests pane), or while one of their devices is on the LAN.
    for (const p of r.peers) {
      if (p.account && p.contact !== 'approved' && !p.online) continue;
      next.set(keyOf(p), p);
    }
    state.peers = next;
    renderContacts();
    if (state.current) renderConvHead();
  }

  const refreshPeers = debounce(loadPeers, 150);

  async function loadContacts() {
    if (!state.rdv.configured) return;
    const r = await main.request({ cmd: 'contacts' });
    state.contacts = r.ok && Array.isArray(r.contacts) ? r.contacts : [];
    renderRequests();
    refreshPeers();
  }

  async function loadRendezvous() {
    const r = await main.request({ cmd: 'rendezvous' });
    state.rdv = r.ok ? r : { configured: false };
    const rdv = state.rdv;
    $('status-wrap').hidden = !rdv.configured || !rdv.user;
    if (rdv.status) $('status-select').value = rdv.status; // the account's choice, from the server
    $('requests').hidden = !rdv.configured;
    let note = '';
    if (rdv.configured && !rdv.connected)
      note = 'The rendezvous server is out of reach: colleagues on this network still are not.';
    else if (rdv.configured && !rdv.user)
      note = 'Not logged in to the rendezvous server: run banter login USER.';
    if (main.open) connState(note, false);
    showPolicy(rdv.policy);
  }

  // The organisation's policy (docs/rendezvous.md 11), read-only.
  function showPolicy(p) {
    const box = $('policy');
    const list = $('policy-rules');
    box.hidden = !p || typeof p !== 'object';
    list.replaceChildren();
    if (box.hidden) return;
    const rules = [
      p.max_file_mb > 0 ? `Files up to ${p.max_file_mb} MB` : 'Files of any size',
      p.auto_accept ? 'Files may be accepted without asking' : 'Every file must be accepted by hand',
      p.history_days > 0 ? `History is kept ${p.history_days} days` : 'History is kept',
      p.lan_discovery ? 'Colleagues on this network are found by themselves' : 'No discovery on this network',
    ];
    for (const text of rules) {
      const li = document.createElement('li');
      li.textContent = text;
      list.appendChild(li);
    }
  }

  function unread(key) {
    const c = state.convs.get(key);
    if (!c) return 0;
    const mark = state.settings.read[key] || 0;
    return c.messages.filter((m) => m.direction === 'in' && m.ts > mark).length;
  }

  function lastMessage(key) {
    const c = state.convs.get(key);
    return c && c.messages.length ? c.messages[c.messages.length - 1] : null;
  }

  function lastLine(key, p) {
    const m = lastMessage(key);
    if (p.text) return p.text;
    if (m) return (m.direction === 'out' ? 'You: ' : '') + m.body.split('\n')[0];
    return presence(p) === 'offline' ? 'offline' : presence(p);
  }

  function shortTime(ms) {
    const d = new Date(ms);
    if (d.toDateString() === new Date().toDateString()) return timeFmt.format(d);
    return new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' }).format(d);
  }

  function badges(p) {
    const out = [];
    if (p.trust === 'verified') out.push(el('span', { class: 'badge verified', text: 'verified', title: 'You compared keys with this person' }));
    if (p.trust === 'changed') out.push(el('span', { class: 'badge changed', text: 'key changed', title: 'This person now has a different key' }));
    if (p.org && p.org.account) out.push(el('span', { class: 'badge org', text: 'org', title: `Organisation account ${p.org.account}` }));
    return out;
  }

  function sortedPeers() {
    const q = state.search.toLowerCase();
    return [...state.peers.entries()]
      .filter(([, p]) => !q || displayName(p).toLowerCase().includes(q) ||
        (p.fingerprint || '').replace(/\s/g, '').includes(q.replace(/\s/g, '')))
      .sort(([ka, a], [kb, b]) => {
        const oa = presence(a) === 'offline' ? 1 : 0;
        const ob = presence(b) === 'offline' ? 1 : 0;
        if (oa !== ob) return oa - ob;
        const ua = unread(ka) ? 0 : 1;
        const ub = unread(kb) ? 0 : 1;
        if (ua !== ub) return ua - ub;
        return displayName(a).localeCompare(displayName(b));
      });
  }

  function renderContacts() {
    if (!state.ready) return;
    const list = $('contact-list');
    const focused = document.activeElement && document.activeElement.dataset
      ? document.activeElement.dataset.key : null;
    list.replaceChildren();
    let total = 0;
    // Names shown by more than one contact: each gets its handle and a mark.
    const seen = new Map();
    for (const p of state.peers.values()) {
      const f = peerFold(p);
      seen.set(f, (seen.get(f) || 0) + 1);
    }
    for (const [key, p] of sortedPeers()) {
      const n = unread(key);
      total += n;
      const av = el('span', { class: 'avatar', 'aria-hidden': 'true' });
      avatar(av, displayName(p), key, presence(p));
      const clash = seen.get(peerFold(p)) > 1;
      const org = p.org && p.org.account;
      const handle = org && peerFold(p) !== foldName(org) ? handleOf(p)
        : clash ? handleOf(p) : '';
      const label = `${displayName(p)}${handle ? ` (${handle})` : ''}, ${presence(p)}${n ? `, ${n} unread` : ''}` +
        (p.trust === 'changed' ? ', key changed' : p.trust === 'verified' ? ', verified' : '') +
        (clash ? ', another contact has the same name' : '');
      const b = el('button', {
        class: 'contact', type: 'button', 'data-key': key, 'aria-label': label,
        'aria-current': state.current === key ? 'true' : null,
        onclick: () => openConversation(key, true),
        onkeydown: (e) => contactKeys(e),
      }, av,
      el('span', { class: 'who' },
        el('span', { class: 'name' }, el('bdi', { text: displayName(p) }),
          handle ? el('span', { class: 'handle', text: handle }) : null,
          clash ? el('span', { class: 'badge clash', text: 'same name', title: 'Another contact shows the same name: tell them apart by the account or the key' }) : null,
          ...badges(p)),
        el('span', { class: 'line', text: lastLine(key, p) })),
      el('span', { class: 'side' },
        lastMessage(key) ? el('span', { class: 'when', text: shortTime(lastMessage(key).ts) }) : null,
        n ? el('span', { class: 'unread', text: String(n), 'aria-hidden': 'true' }) : null));
      list.append(el('li', {}, b));
      if (focused === key) b.focus();
    }
    $('contacts-empty').hidden = state.peers.size !== 0;
    document.title = total ? `(${total}) Banter` : 'Banter';
  }

  function contactKeys(e) {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    const all = [...document.querySelectorAll('#contact-list .contact')];
    const i = all.indexOf(e.currentTarget);
    const next = all[i + (e.key === 'ArrowDown' ? 1 : -1)];
    if (next) next.focus();
    e.preventDefault();
  }

  // ---------------------------------------------------- contact requests

  function renderRequests() {
    const list = $('request-list');
    list.replaceChildren();
    const pending = state.contacts.filter((c) => c.state === 'incoming' || c.state === 'outgoing');
    for (const c of pending) {
      const name = c.display_name ? `${c.display_name} (@${c.user})` : `@${c.user}`;
      const av = el('span', { class: 'avatar small', 'aria-hidden': 'true' });
      avatar(av, c.display_name || c.user, c.user);
      const actions = c.state === 'incoming'
        ? [el('button', { class: 'btn small primary', type: 'button', text: 'Accept', 'aria-label': `Accept ${name}'s contact request`, onclick: () => contactOp('approve', c.user, `${name} is now a contact`) }),
          el('button', { class: 'btn small', type: 'button', text: 'Decline', 'aria-label': `Decline ${name}'s contact request`, onclick: () => contactOp('deny', c.user, `Declined ${name}`) })]
        : [el('button', { class: 'btn small', type: 'button', text: 'Withdraw', 'aria-label': `Withdraw your request to ${name}`, onclick: () => contactOp('remove', c.user, `Withdrew the request to ${name}`) })];
      list.append(el('li', { class: 'request' },
        el('div', { class: 'req-who' }, av,
          el('span', { class: 'who' }, el('strong', {}, el('bdi', { text: c.display_name || c.user })),
            c.display_name ? el('span', { class: 'handle', text: `@${c.user}` }) : null,
            el('span', { class: 'line', text: c.state === 'incoming' ? 'wants to be your contact' : 'has not answered yet' }))),
        el('div', { class: 'req-actions' }, ...actions)));
    }
    if (pending.length === 0)
      list.append(el('li', { class: 'empty-note', text: 'No requests waiting.' }));
  }

  async function contactOp(op, user, done) {
    const r = await slow.request({ cmd: 'contact', op, user });
    if (!r.ok) {
      toast(r.message || 'the request failed', true);
      return;
    }
    toast(done);
    loadContacts();
  }

  // ------------------------------------------------------------ directory

  const searchDirectory = debounce(async (q) => {
    const box = $('directory');
    if (!state.rdv.configured || !state.rdv.user || q.length < 2) {
      box.hidden = true;
      return;
    }
    const [a, b] = await Promise.all([
      slow.request({ cmd: 'search', criteria: [`display_name~${q}`], per_page: 20 }),
      slow.request({ cmd: 'search', criteria: [`user~${q}`], per_page: 20 }),
    ]);
    if (q !== state.search) return;
    const seen = new Map();
    for (const r of [a, b]) if (r.ok) for (const u of r.users) seen.set(u.user, u);
    const list = $('directory-list');
    list.replaceChildren();
    for (const u of seen.values()) {
      if (u.user === state.rdv.user) continue;
      const c = state.contacts.find((x) => x.user === u.user);
      const name = u.display_name || u.user;
      const av = el('span', { class: 'avatar small', 'aria-hidden': 'true' });
      avatar(av, name, u.user);
      list.append(el('li', { class: 'dir-entry' }, av,
        el('span', { class: 'who' }, el('strong', {}, el('bdi', { text: name })),
          el('span', { class: 'line', text: [`@${u.user}`, u.department, u.title].filter(Boolean).join(' · ') })),
        c ? el('span', { class: 'note', text: c.state === 'approved' ? 'contact' : c.state })
          : el('button', { class: 'btn small', type: 'button', text: 'Add', 'aria-label': `Ask ${name} to be your contact`, onclick: () => contactOp('request', u.user, `Request sent to ${name}`) })));
    }
    $('directory-note').textContent = seen.size ? '' : (a.ok ? 'No one in the directory matches.' : (a.message || ''));
    box.hidden = false;
  }, 350);

  // -------------------------------------------------------- conversations

  function conv(key) {
    let c = state.convs.get(key);
    if (!c) {
      c = { messages: [], loaded: false };
      state.convs.set(key, c);
    }
    return c;
  }

  async function loadHistory(key) {
    const r = isGroup(key)
      ? await main.request({ cmd: 'group_history', group: key.slice(2), limit: 500 })
      : await main.request({ cmd: 'history', peer: peerArg(key), limit: HISTORY_LIMIT });
    const c = conv(key);
    if (r.ok) {
      c.messages = r.messages;
      c.loaded = true;
    }
    return c;
  }

  async function openConversation(key, focusComposer) {
    state.current = key;
    $('welcome').hidden = true;
    $('conv').hidden = false;
    renderContacts();
    renderGroups();
    renderConvHead();
    const c = conv(key);
    if (!c.loaded) await loadHistory(key);
    if (state.current !== key) return;
    renderMessages();
    markRead();
    if (focusComposer && !$('composer-text').disabled) $('composer-text').focus();
  }

  // How the contact is reached now: the route of its first device that
  // has one (docs/control.md, peers), in words; the path as a tooltip.
  function routeOf(p) {
    const d = (p.devices || []).find((x) => x.route) || {};
    const words = {
      lan: 'on this LAN',
      direct: 'direct connection',
      relay: `relayed by the TURN server${/TURN tcp/.test(d.path || '') ? ' over TCP' : ''}`,
      server: 'through the server (text only)',
    };
    return { text: words[d.route] || '', path: d.path || '' };
  }

  function renderConvHead() {
    const key = state.current;
    $('group-manage').hidden = !isGroup(key);
    if (isGroup(key)) {
      renderGroupHead(key);
      return;
    }
    const p = state.peers.get(key) || { name: key };
    const name = displayName(p);
    avatar($('conv-avatar'), name, key, presence(p));
    const org = p.org && p.org.account;
    $('conv-name').replaceChildren(el('bdi', { text: name }),
      ...(org && peerFold(p) !== foldName(org) ? [el('span', { class: 'handle', text: `@${org}` })] : []),
      ...badges(p));
    const bits = [presence(p)];
    if (p.text) bits.push(p.text);
    if (p.org && p.org.account) bits.push(`organisation account ${p.org.account}`);
    const route = routeOf(p);
    if (route.text) bits.push(route.text);
    if (p.fingerprint) bits.push(p.fingerprint);
    $('conv-sub').textContent = bits.join(' · ');
    $('conv-sub').title = route.path;
    renderDevices(p);
    $('composer-label').textContent = `Message to ${name}`;
    $('verify-open').hidden = !p.fingerprint || p.trust === 'verified' || p.trust === 'changed';
    $('doctor-open').hidden = false;
    const changed = p.trust === 'changed';
    renderKeyWarning(p, changed);
    const box = $('composer-text');
    box.disabled = changed;
    $('send').disabled = changed;
    $('attach').disabled = changed;
    box.placeholder = changed ? `Sending is paused until you check ${name}'s new key`
      : `Message ${name}`;
  }

  // The contact's devices and how far each is trusted, when it has more
  // than one or one is not vouched for: which laptop said what is the
  // person's to check, by fingerprint.
  const DEVICE_TRUST = {
    verified: 'verified',
    known: 'known',
    certified: 'certified by the organisation',
    lapsed: 'no longer certified: what it says is unverified',
    changed: 'new key, not checked: what it says is unverified',
  };

  function renderDevices(p) {
    const box = $('conv-devices');
    const devs = p.devices || [];
    const odd = devs.some((d) => d.trust === 'lapsed' || d.trust === 'changed');
    box.hidden = devs.length < 2 && !odd;
    if (box.hidden) {
      box.replaceChildren();
      return;
    }
    box.replaceChildren(el('span', { class: 'devices-label', text: 'Devices:' }),
      ...devs.map((d) => el('span', { class: `device ${d.trust || ''}`, 'data-trust': d.trust || '' },
        d.trust === 'lapsed' || d.trust === 'changed' ? icon('warning') : null,
        el('bdi', { text: d.name || 'a device' }), ' ',
        el('span', { class: 'fp', text: d.fingerprint || '' }),
        ` (${DEVICE_TRUST[d.trust] || d.trust || 'unknown'})`)));
  }

  function renderKeyWarning(p, changed) {
    const w = $('keywarn');
    w.hidden = !changed;
    if (!changed) return;
    const name = displayName(p);
    w.replaceChildren(
      el('h2', {}, icon('warning'), `${name}'s key has changed`),
      el('p', { text: `Someone using the name ${name} now has a different key. It may be a new computer — or someone pretending. Nothing is sent to ${name} until you check.` }),
      el('p', { text: `Call ${name} or meet in person, and compare the new key with the one ${name} sees with "banter id":` }),
      el('dl', { class: 'fp-compare' },
        el('dt', { text: 'Old key' }), el('dd', { class: 'fp old', text: p.replaces || 'unknown' }),
        el('dt', { text: 'New key' }), el('dd', { class: 'fp', text: p.fingerprint }),
        el('dt', { text: 'Your key' }), el('dd', { class: 'fp', text: state.me.fingerprint })),
      el('button', { class: 'btn primary', type: 'button', text: `I checked with ${name}: trust the new key`, onclick: () => verifyPeer(keyOf(p)) }));
  }

  function linkify(body, links) {
    const p = el('p', { class: 'body' });
    let rest = body;
    for (const link of links || []) {
      const i = rest.indexOf(link);
      if (i < 0) continue;
      const href = /^www\./i.test(link) ? `https://${link}` : link;
      p.append(rest.slice(0, i));
      if (/^(https?|ftp):\/\/|^mailto:/i.test(href))
        p.append(el('a', { href, target: '_blank', rel: 'noopener noreferrer', text: link }));
      else
        p.append(link);
      rest = rest.slice(i + link.length);
    }
    p.append(rest);
    return p;
  }

  const STATES = {
    delivered: ['check', 'delivered', 'Delivered'],
    queued: ['clock', 'queued', 'Queued: delivered when they are online'],
    stored: ['clock', 'stored', 'Kept by the rendezvous server until they are online'],
    failed: ['warning', 'not delivered', 'Not delivered'],
  };

  function stateNode(m) {
    const [ic, text, title] = STATES[m.state] || STATES.queued;
    const why = m.state === 'failed' && m.error ? `: ${m.error}` : '';
    return el('span', { class: `state ${m.state}`, title: title + why }, icon(ic), text + why);
  }

  // What came from a device nothing vouches for (a key that changed, a
  // device the organisation no longer certifies, a copy the server kept
  // for an account since deleted): marked where it is shown, never shown
  // as the contact's own words (docs/control.md, "unverified").
  const UNVERIFIED_TITLE = 'Sent from a device nobody vouches for: a new key not yet checked, ' +
    'or one the organisation no longer certifies. Compare fingerprints before you trust it.';

  function messageNode(m) {
    const unverified = m.direction === 'in' && m.unverified === true;
    const meta = el('span', { class: 'meta' },
      unverified ? el('span', { class: 'tag unverified', title: UNVERIFIED_TITLE }, icon('warning'), 'unverified') : null,
      m.broadcast ? el('span', { class: 'tag' }, icon('broadcast'), 'broadcast') : null,
      el('time', { datetime: new Date(m.ts).toISOString(), text: timeFmt.format(new Date(m.ts)) }),
      m.direction === 'out' ? stateNode(m) : null);
    const group = isGroup(state.current);
    if (group && m.direction === 'out' && m.recipients !== undefined)
      meta.append(el('span', {
        class: 'state delivered',
        title: (m.delivery || []).map((d) => `${d.member}: ${d.state}`).join('\n'),
        text: `delivered to ${m.delivered_to} of ${m.recipients}`,
      }));
    const who = m.direction === 'out' ? 'You'
      : group ? (m.account ? `@${m.account}` : m.from || 'someone')
        : displayName(state.peers.get(state.current) || {});
    const said = unverified ? `${who} (unverified device)` : who;
    return el('li', { class: `msg ${m.direction}${unverified ? ' unverified' : ''}`, 'data-id': m.id, 'data-ts': String(m.ts) },
      el('div', { class: 'bubble' },
        group && m.direction === 'in' ? el('strong', { class: 'from', text: said })
          : el('span', { class: 'visually-hidden', text: `${said}: ` }),
        linkify(m.body, m.links || findLinks(m.body)), meta));
  }

  // Messages and file transfers of the current conversation, by time.
  function items(key) {
    const c = conv(key);
    const out = c.messages.map((m) => ({ ts: m.ts, m }));
    for (const t of state.transfers.values())
      if (t.peer && t.peer.id === key) out.push({ ts: t.created, t });
    for (const [id, u] of state.uploads) if (u.key === key) out.push({ ts: u.ts, u, id });
    return out.sort((a, b) => a.ts - b.ts);
  }

  function renderMessages() {
    const list = $('messages');
    const mark = state.settings.read[state.current] || 0;
    let divider = unread(state.current) > 0;
    let first = null;
    list.setAttribute('aria-busy', 'true');
    list.replaceChildren();
    let day = '';
    for (const it of items(state.current)) {
      const d = dayLabel(it.ts);
      if (d !== day) {
        list.append(el('li', { class: 'day', text: d }));
        day = d;
      }
      if (divider && it.m && it.m.direction === 'in' && it.m.ts > mark) {
        first = el('li', { class: 'new-divider', text: 'New' });
        list.append(first);
        divider = false;
      }
      list.append(it.m ? messageNode(it.m) : it.t ? transferNode(it.t) : uploadNode(it.id, it.u));
    }
    list.removeAttribute('aria-busy');
    list.scrollTop = list.scrollHeight;
    if (first && first.offsetTop < list.scrollTop) list.scrollTop = first.offsetTop - 12;
  }

  function appendItem(node, ts) {
    const list = $('messages');
    const near = list.scrollHeight - list.scrollTop - list.clientHeight < 120;
    const last = list.querySelector('li[data-ts]:last-of-type');
    const d = dayLabel(ts);
    const lastDay = [...list.querySelectorAll('.day')].pop();
    if (!lastDay || lastDay.textContent !== d || !last) list.append(el('li', { class: 'day', text: d }));
    list.append(node);
    if (near) list.scrollTop = list.scrollHeight;
  }

  function addMessage(key, m) {
    const c = conv(key);
    if (c.messages.some((x) => x.id === m.id)) return;
    c.messages.push(m);
    if (state.current === key) appendItem(messageNode(m), m.ts);
    renderContacts();
  }

  function markDelivered(key, id, st, error) {
    const c = state.convs.get(key);
    const m = c && c.messages.find((x) => x.id === id);
    if (!m) {
      if (c && c.loaded) loadHistory(key).then(() => { if (state.current === key) renderMessages(); });
      return;
    }
    m.state = st || 'delivered';
    m.error = error;
    if (state.current !== key) return;
    const s = document.querySelector(`#messages li[data-id="${id}"] .state`);
    if (s) s.replaceWith(stateNode(m));
  }

  const saveRead = debounce((key, ts) => saveSettings({ read: { [key]: ts } }), 400);

  function markRead() {
    const key = state.current;
    if (!key || document.visibilityState !== 'visible' || !document.hasFocus()) return;
    const c = state.convs.get(key);
    if (!c) return;
    let latest = 0;
    for (const m of c.messages) if (m.direction === 'in' && m.ts > latest) latest = m.ts;
    if (latest > (state.settings.read[key] || 0)) {
      state.settings.read[key] = latest;
      saveRead(key, latest);
      renderContacts();
    }
  }

  async function send(text) {
    const key = state.current;
    if (isGroup(key)) return sendGroup(key, text);
    const r = await main.request({ cmd: 'send', peer: peerArg(key), text, wait: 0 });
    if (!r.ok) {
      toast(r.message || 'not sent', true);
      return false;
    }
    addMessage(key, { id: r.id, direction: 'out', ts: Date.now(), state: r.state, broadcast: false, body: text, links: findLinks(text) });
    return true;
  }

  // The node finds links in what it stores; for our own new message the
  // page finds them the same simple way until the history is reloaded.
  function findLinks(text) {
    const re = /\b(?:https?:\/\/|ftp:\/\/|mailto:|www\.)[^\s<>"]+/gi;
    return (text.match(re) || []).map((l) => l.replace(/[.,;:!?')\]]+$/, ''));
  }

  async function verifyPeer(key) {
    const r = await main.request({ cmd: 'verify', peer: peerArg(key) });
    if (!r.ok) {
      toast(r.message || 'verify failed', true);
      return;
    }
    toast(`${displayName(state.peers.get(key) || {})} is verified`);
    await loadPeers();
  }

  // The "doctor" request (docs/control.md): what stands between this node
  // and the contact, one check a line, in the node's order.
  const CHECK_WORDS = { ok: 'OK', warn: 'Warning', fail: 'Problem', skip: 'Not used' };
  async function runDoctor(key) {
    const d = $('doctor');
    $('doctor-name').textContent = displayName(state.peers.get(key) || { name: key });
    $('doctor-wait').textContent = 'Checking (up to 10 seconds)…';
    $('doctor-checks').replaceChildren();
    d.showModal();
    const r = await slow.request({ cmd: 'doctor', peer: peerArg(key) });
    if (!r.ok) {
      $('doctor-wait').textContent = r.message || 'the check failed';
      return;
    }
    $('doctor-wait').textContent = '';
    $('doctor-checks').replaceChildren(...(r.checks || []).map((c) =>
      el('li', { class: `check check-${c.status}` },
        el('strong', {}, `${CHECK_WORDS[c.status] || c.status} · ${c.name}`), ' ', c.text)));
  }

  // --------------------------------------------------------- file transfers

  function transferNode(t) {
    const name = displayName(t.peer || {});
    const over = ['done', 'failed', 'declined', 'cancelled'].includes(t.state);
    const pct = t.size ? Math.floor((t.done / t.size) * 100) : (t.state === 'done' ? 100 : 0);
    const why = t.error && t.error !== t.state ? `: ${t.error}` : '';
    const labels = {
      offered: t.direction === 'in' ? 'wants to send you this' : `waiting for ${name} to accept`,
      active: t.direction === 'in' ? 'receiving' : 'sending',
      paused: `paused: ${name} is offline`,
      done: t.direction === 'in' ? 'received' : `delivered to ${name}`,
      failed: `failed${why}`,
      declined: `declined${why}`,
      cancelled: `cancelled${why}`,
    };
    const stateClass = t.state === 'done' ? 'state done' : (over ? 'state failed' : 'state');
    let figures = `${size(t.done)} of ${size(t.size)}`;
    if (t.state === 'active' && t.rate > 0) {
      const left = Math.max(0, (t.size - t.done) / t.rate);
      figures += ` · ${size(t.rate)}/s · ${Math.floor(left / 60)}:${String(Math.floor(left % 60)).padStart(2, '0')} left`;
    }
    if (t.state === 'done' && t.direction === 'in' && t.dest) figures = `${size(t.size)} · saved in ${t.dest}`;
    const actions = [];
    if (t.direction === 'in' && t.state === 'offered') {
      actions.push(el('button', { class: 'btn small primary', type: 'button', text: 'Accept', 'aria-label': `Accept ${t.name}`, onclick: () => xferOp('accept', t.id) }));
      actions.push(el('button', { class: 'btn small', type: 'button', text: 'Decline', 'aria-label': `Decline ${t.name}`, onclick: () => xferOp('decline', t.id) }));
    } else if (t.direction === 'in' && t.state === 'failed') {
      actions.push(el('button', { class: 'btn small', type: 'button', text: 'Try again', 'aria-label': `Try ${t.name} again`, onclick: () => xferOp('accept', t.id) }));
    }
    if (!over && !(t.direction === 'in' && t.state === 'offered'))
      actions.push(el('button', { class: 'btn small danger', type: 'button', text: 'Cancel', 'aria-label': `Cancel ${t.name}`, onclick: () => xferOp('cancel', t.id) }));
    return el('li', { class: `xfer ${t.direction}`, 'data-xfer': t.id, 'data-ts': String(t.created) },
      el('div', { class: 'xfer-card', role: 'group', 'aria-label': `File ${t.name}` },
        el('div', { class: 'title' }, icon(t.files > 1 ? 'folder' : 'file'),
          el('span', { class: 'fname', text: t.name }),
          el('span', { class: stateClass, text: labels[t.state] || t.state })),
        el('progress', { max: '100', value: String(pct), 'aria-label': `${t.name}: ${pct}%` }),
        el('div', { class: 'figures', text: figures }),
        actions.length ? el('div', { class: 'actions' }, ...actions) : null));
  }

  function uploadNode(id, u) {
    const pct = u.size ? Math.floor((u.sent / u.size) * 100) : 0;
    return el('li', { class: 'xfer out', 'data-upload': id, 'data-ts': String(u.ts) },
      el('div', { class: 'xfer-card', role: 'group', 'aria-label': `File ${u.name}` },
        el('div', { class: 'title' }, icon('file'),
          el('span', { class: 'fname', text: u.name }),
          el('span', { class: u.error ? 'state failed' : 'state', text: u.error ? `not sent: ${u.error}` : 'preparing' })),
        el('progress', { max: '100', value: String(pct), 'aria-label': `Preparing ${u.name}: ${pct}%` }),
        el('div', { class: 'figures', text: `${size(u.sent)} of ${size(u.size)} handed to your node` })));
  }

  function keyOfTransfer(t) {
    return t.peer && t.peer.id && state.peers.has(t.peer.id) ? t.peer.id : null;
  }

  function upsertTransfer(t) {
    const isNew = !state.transfers.has(t.id);
    state.transfers.set(t.id, t);
    const key = keyOfTransfer(t);
    if (!key || state.current !== key) return;
    const old = document.querySelector(`#messages li[data-xfer="${t.id}"]`);
    const node = transferNode(t);
    if (old) {
      // Keep focus on the same button when it is still there.
      const f = document.activeElement && old.contains(document.activeElement) ? document.activeElement.textContent : null;
      old.replaceWith(node);
      if (f) for (const b of node.querySelectorAll('button')) if (b.textContent === f) b.focus();
    } else if (isNew) {
      appendItem(node, t.created);
    }
  }

  async function xferOp(cmd, id) {
    const r = await main.request({ cmd, id });
    if (!r.ok) toast(r.message || `${cmd} failed`, true);
    else if (r.transfer) upsertTransfer(r.transfer);
  }

  let uploadSeq = 0;

  function sendFiles(files) {
    const key = state.current;
    if (!key) return;
    for (const f of files) {
      const id = `u${++uploadSeq}`;
      const u = { name: f.name, size: f.size, sent: 0, key, ts: Date.now(), error: null };
      state.uploads.set(id, u);
      if (state.current === key) appendItem(uploadNode(id, u), u.ts);
      const xhr = new XMLHttpRequest();
      // A group ("g:" + id) is "%" + id: the node offers the file to each
      // other member (docs/web.md).
      const to = key.startsWith('g:') ? `%${key.slice(2)}` : peerArg(key);
      xhr.open('POST', `/upload?peer=${encodeURIComponent(to)}&name=${encodeURIComponent(f.name)}`);
      xhr.setRequestHeader('X-Banter-Token', state.token);
      xhr.upload.onprogress = (e) => {
        u.sent = e.loaded;
        refreshUpload(id);
      };
      xhr.onload = () => {
        let r = null;
        try { r = JSON.parse(xhr.responseText); } catch (err) { r = null; }
        if (r && r.ok) {
          state.uploads.delete(id);
          const node = document.querySelector(`#messages li[data-upload="${id}"]`);
          if (node) node.remove();
          if (r.transfer) upsertTransfer(r.transfer);
          if (r.offers) groupOffered(f.name, r.offers);
        } else {
          u.error = (r && r.message) || `the node answered ${xhr.status}`;
          refreshUpload(id);
          toast(`${f.name} was not sent: ${u.error}`, true);
        }
      };
      xhr.onerror = () => {
        u.error = 'the connection to the node broke';
        refreshUpload(id);
      };
      xhr.send(f);
    }
  }

  // A file to a group: one offer per other member, each shown in that
  // member's own conversation; here, how many were offered.
  function groupOffered(name, offers) {
    let made = 0;
    for (const o of offers) {
      if (o.ok) made++;
      if (o.transfer) upsertTransfer(o.transfer);
    }
    const failed = offers.filter((o) => !o.ok).map((o) => o.member);
    toast(`${name} offered to ${made} of ${offers.length} members` +
      (failed.length ? ` (not to ${failed.join(', ')})` : ''), failed.length > 0);
  }

  function refreshUpload(id) {
    const u = state.uploads.get(id);
    const node = document.querySelector(`#messages li[data-upload="${id}"]`);
    if (u && node) node.replaceWith(uploadNode(id, u));
  }

  // ---------------------------------------------------------------- events

  function notify(title, body, key) {
    const here = state.current === key && document.visibilityState === 'visible' && document.hasFocus();
    if (here) return;
    if (state.settings.sound) beep();
    if (state.current !== key) announce(`${title}: ${body}`);
    if (state.settings.notify && 'Notification' in window && Notification.permission === 'granted') {
      const n = new Notification(title, { body, tag: key || 'banter', icon: '/icon.svg' });
      n.onclick = () => {
        window.focus();
        if (key) openConversation(key, true);
        n.close();
      };
    }
  }

  // ------------------------------------------ the organisation's announcements
  // Unread ones stand in a banner above the conversation until dismissed;
  // one on screen (the page visible) is read: the node tells the server,
  // which counts it in `banter-admin announce report`.

  const notices = new Map(); // id -> announcement

  function readNotices() {
    if (document.visibilityState !== 'visible') return;
    for (const a of notices.values()) {
      if (a.read) continue;
      a.read = Date.now();
      main.request({ cmd: 'announcement_read', id: a.id });
    }
  }

  function renderNotices() {
    const box = $('org-notices');
    box.textContent = '';
    for (const a of notices.values()) {
      const close = el('button', { class: 'icon-btn', type: 'button', 'aria-label': 'Dismiss', text: '\u00d7' });
      close.addEventListener('click', () => { notices.delete(a.id); renderNotices(); });
      box.append(el('div', { class: 'org-notice', 'data-id': String(a.id) },
        el('div', { class: 'org-notice-head' },
          el('strong', { text: a.department ? `Announcement to ${a.department}` : 'Announcement' }),
          el('span', { class: 'org-notice-time', text: `${dayLabel(a.ts)} ${shortTime(a.ts)}` }), close),
        el('p', { class: 'org-notice-text', text: a.text })));
    }
    box.hidden = notices.size === 0;
    readNotices();
  }

  async function loadNotices() {
    const r = await main.request({ cmd: 'announcements', unread: true });
    if (r.ok) for (const a of r.announcements) notices.set(a.id, a);
    renderNotices();
  }

  function keyForRef(ref) {
    if (!ref) return null;
    return ref.id || ref.fingerprint || null;
  }

  function onEvent(ev) {
    switch (ev.event) {
      case 'message': {
        let key = keyForRef(ev.peer);
        if (!state.peers.has(key)) refreshPeers();
        const out = ev.direction === 'out'; // sent from another device of this account
        addMessage(key, { id: ev.id, direction: out ? 'out' : 'in', ts: ev.ts, state: out ? 'delivered' : 'received', broadcast: ev.broadcast, unverified: ev.unverified === true, body: ev.body, links: ev.links });
        if (!out) notify(`${ev.peer.name || 'New message'}${ev.unverified === true ? ' (unverified device)' : ''}`, ev.body, key);
        if (state.current === key) markRead();
        break;
      }
      case 'delivered':
        if (!ev.peer) { // a group message: its delivery per member
          if (isGroup(state.current)) loadHistory(state.current).then(() => renderMessages());
          break;
        }
        markDelivered(keyForRef(ev.peer), ev.id, ev.state, ev.error);
        break;
      case 'group':
        if (ev.group) {
          state.groups.set(`g:${ev.group.id}`, ev.group);
          renderGroups();
          if (state.current === `g:${ev.group.id}`) renderConvHead();
        } else if (ev.text) { // an invitation refused: this node holds the most groups
          toast(ev.text, true);
        } else if (ev.id && state.groups.has(`g:${ev.id}`)) { // deleted
          forgetGroup(`g:${ev.id}`);
        }
        break;
      case 'group_message': {
        if (!ev.group || !ev.message) break;
        const key = `g:${ev.group.id}`;
        state.groups.set(key, Object.assign(state.groups.get(key) || {}, ev.group));
        addMessage(key, ev.message);
        if (ev.message.direction === 'in') notify(ev.group.name, ev.message.body, key);
        if (state.current === key) markRead();
        renderGroups();
        break;
      }
      case 'key_changed':
        toast(ev.text || `${ev.peer.name}'s key changed`, true);
        refreshPeers();
        break;
      case 'online': case 'offline': case 'presence':
        refreshPeers();
        break;
      case 'contacts':
        loadContacts();
        break;
      case 'rendezvous':
        loadRendezvous().then(loadContacts);
        break;
      case 'settings':
        applySettings(ev.settings);
        break;
      case 'file_offer':
        upsertTransfer(ev.transfer);
        notify(`${ev.transfer.peer.name} wants to send you a file`, ev.transfer.name, keyOfTransfer(ev.transfer));
        break;
      case 'file_state': case 'file_progress': case 'file_done': case 'file_failed':
        upsertTransfer(ev.transfer);
        break;
      case 'announcement':
        if (!ev.announcement) break;
        notices.set(ev.announcement.id, ev.announcement);
        renderNotices();
        notify('Announcement', ev.announcement.text, null);
        break;
      default:
        break;
    }
  }

  // -------------------------------------------------------------- loading

  async function loadAll() {
    await main.request({ cmd: 'listen' });
    const id = await main.request({ cmd: 'id' });
    if (id.ok) state.me = id;
    $('me-name').textContent = state.me.name;
    avatar($('me-avatar'), state.me.name || '?', state.me.fingerprint);
    $('welcome-fp').textContent = state.me.fingerprint ? `Your key: ${state.me.fingerprint}` : '';
    const s = await main.request({ cmd: 'settings_get' });
    if (s.ok) applySettings(s.settings);
    await loadRendezvous();
    state.ready = true;
    await loadContacts();
    await loadPeers();
    const t = await main.request({ cmd: 'transfers' });
    if (t.ok) for (const x of t.transfers) state.transfers.set(x.id, x);
    // The histories give the unread counts.
    for (const key of [...state.peers.keys()]) await loadHistory(key);
    renderContacts();
    await loadGroups();
    await loadNotices();
    if (state.current) openConversation(state.current, false);
  }

  // ------------------------------------------------------------------- ui

  function bindComposer() {
    const box = $('composer-text');
    const grow = () => {
      box.style.height = 'auto';
      box.style.height = `${box.scrollHeight}px`;
    };
    box.addEventListener('input', grow);
    box.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        $('composer').requestSubmit();
      }
    });
    $('composer').addEventListener('submit', async (e) => {
      e.preventDefault();
      const text = box.value;
      if (!text.trim() || !state.current) return;
      box.value = '';
      grow();
      if (!(await send(text))) box.value = text;
    });
    $('attach').addEventListener('click', () => $('file-input').click());
    $('file-input').addEventListener('change', (e) => {
      sendFiles([...e.target.files]);
      e.target.value = '';
    });
  }

  function bindDrop() {
    const area = $('conv');
    let depth = 0;
    const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes('Files');
    area.addEventListener('dragenter', (e) => {
      if (!hasFiles(e) || $('attach').disabled) return;
      depth++;
      $('drop').hidden = false;
    });
    area.addEventListener('dragover', (e) => {
      if (hasFiles(e)) e.preventDefault();
    });
    area.addEventListener('dragleave', () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) $('drop').hidden = true;
    });
    area.addEventListener('drop', (e) => {
      e.preventDefault();
      depth = 0;
      $('drop').hidden = true;
      if ($('attach').disabled) return;
      const files = [];
      const items = e.dataTransfer.items ? [...e.dataTransfer.items] : [];
      items.forEach((it, i) => {
        const entry = it.webkitGetAsEntry ? it.webkitGetAsEntry() : null;
        if (entry && entry.isDirectory) toast(`${entry.name} is a folder: send folders with banter send-file`, true);
        else if (e.dataTransfer.files[i]) files.push(e.dataTransfer.files[i]);
      });
      if (items.length === 0) files.push(...e.dataTransfer.files);
      sendFiles(files);
    });
  }

  function bindDialogs() {
    const settings = $('settings');
    $('settings-open').addEventListener('click', () => settings.showModal());
    for (const r of document.querySelectorAll('input[name="theme"]'))
      r.addEventListener('change', () => saveSettings({ theme: r.value }));
    $('font-size').addEventListener('input', (e) => {
      $('font-size-out').textContent = `${e.target.value} px`;
      document.documentElement.style.setProperty('--font-size', `${e.target.value}px`);
    });
    $('font-size').addEventListener('change', (e) => saveSettings({ font_size: Number(e.target.value) }));
    $('sound').addEventListener('change', (e) => {
      saveSettings({ sound: e.target.checked });
      if (e.target.checked) beep();
    });
    $('notify').addEventListener('change', async (e) => {
      const on = e.target.checked;
      if (on && 'Notification' in window && Notification.permission !== 'granted') {
        const p = await Notification.requestPermission();
        $('notify-note').textContent = p === 'granted' ? '' : 'Your browser blocks notifications for this page: allow them in its site settings.';
      }
      saveSettings({ notify: on });
    });

    const bc = $('broadcast');
    $('broadcast-open').addEventListener('click', () => {
      bc.showModal();
      $('broadcast-text').focus();
    });
    $('broadcast-cancel').addEventListener('click', () => bc.close());
    $('broadcast-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const text = $('broadcast-text').value;
      if (!text.trim()) return;
      const r = await main.request({ cmd: 'broadcast', text });
      if (!r.ok) {
        toast(r.message || 'not sent', true);
        return;
      }
      $('broadcast-text').value = '';
      bc.close();
      toast(`Broadcast to ${r.recipients} ${r.recipients === 1 ? 'person' : 'people'}`);
      for (const c of state.convs.values()) c.loaded = false;
      if (state.current) openConversation(state.current, false);
    });

    const vd = $('verify');
    $('verify-open').addEventListener('click', () => {
      const p = state.peers.get(state.current) || {};
      $('verify-name').textContent = displayName(p);
      $('verify-theirs').textContent = p.fingerprint || '';
      $('verify-mine').textContent = state.me.fingerprint;
      vd.showModal();
    });
    $('verify-cancel').addEventListener('click', () => vd.close());
    $('doctor-open').addEventListener('click', () => runDoctor(state.current));
    $('verify-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      vd.close();
      await verifyPeer(state.current);
    });
  }

  // --------------------------------------------------------------- groups
  // A group's conversation is keyed "g:" + its id; the node keeps its
  // members, order and delivery (docs/control.md, "Groups").

  function isGroup(key) {
    return typeof key === 'string' && key.startsWith('g:');
  }

  async function loadGroups() {
    const r = await main.request({ cmd: 'groups' });
    if (!r.ok) return;
    for (const g of r.groups) {
      const key = `g:${g.id}`;
      state.groups.set(key, Object.assign(state.groups.get(key) || {}, g));
      if (!conv(key).loaded) await loadHistory(key);
    }
    renderGroups();
  }

  function groupUnread(key) {
    const c = state.convs.get(key);
    if (!c || !c.loaded) return (state.groups.get(key) || {}).unread || 0;
    return unread(key);
  }

  function renderGroups() {
    const list = $('group-list');
    list.replaceChildren();
    for (const [key, g] of state.groups) {
      const n = groupUnread(key);
      const m = lastMessage(key);
      const av = el('span', { class: 'avatar', 'aria-hidden': 'true' });
      avatar(av, g.name, key);
      list.append(el('li', {}, el('button', {
        class: 'contact', type: 'button', 'data-key': key,
        'aria-label': `group ${g.name}, ${g.members_count} members${n ? `, ${n} unread` : ''}`,
        'aria-current': state.current === key ? 'true' : null,
        onclick: () => openConversation(key, true),
      }, av,
      el('span', { class: 'who' },
        el('span', { class: 'name' }, g.name),
        el('span', { class: 'line', text: m ? (m.direction === 'out' ? 'You: ' : '') + m.body.split('\n')[0]
          : `${g.members_count} members${g.member ? '' : ' · you left'}` })),
      el('span', { class: 'side' },
        m ? el('span', { class: 'when', text: shortTime(m.ts) }) : null,
        n ? el('span', { class: 'unread', text: String(n), 'aria-hidden': 'true' }) : null))));
    }
  }

  function renderGroupHead(key) {
    const g = state.groups.get(key) || { name: key, members_count: 0 };
    avatar($('conv-avatar'), g.name, key);
    $('conv-name').replaceChildren(g.name);
    renderDevices({}); // a contact's devices are not a group's
    $('conv-sub').textContent = `group · ${g.members_count} members${g.admin ? ' · you are an admin' : ''}` +
      (g.member ? '' : ' · you are no longer a member');
    $('composer-label').textContent = `Message to the group ${g.name}`;
    $('verify-open').hidden = true;
    $('doctor-open').hidden = true;
    $('attach').disabled = !g.member; // offered to each other member
    $('keywarn').hidden = true;
    const box = $('composer-text');
    box.disabled = !g.member;
    $('send').disabled = !g.member;
    box.placeholder = g.member ? `Message ${g.name}` : 'You are no longer a member of this group';
  }

  async function sendGroup(key, text) {
    const r = await main.request({ cmd: 'group_send', group: key.slice(2), text });
    if (!r.ok) {
      toast(r.message || 'not sent', true);
      return false;
    }
    addMessage(key, { id: r.id, direction: 'out', ts: Date.now(), state: 'queued', body: text, links: findLinks(text), delivered_to: 0, recipients: Math.max(0, ((state.groups.get(key) || {}).members_count || 1) - 1) });
    renderGroups();
    return true;
  }

  // The dialog: a new group (name and members), or the members of the
  // current group (invite, remove, rename, leave).
  async function openGroupDialog(key) {
    const d = $('group-dialog');
    d.dataset.key = key || '';
    $('group-title').textContent = key ? 'Members' : 'New group';
    $('group-ok').textContent = key ? 'Save' : 'Create';
    $('group-leave').hidden = !key;
    $('group-delete').hidden = !key;
    $('group-delete').textContent = 'Delete the group';
    delete $('group-delete').dataset.armed;
    $('group-note').textContent = '';
    $('group-add').value = '';
    $('group-members').replaceChildren();
    let g = null;
    if (key) {
      const r = await main.request({ cmd: 'group_members', group: key.slice(2) });
      if (r.ok) {
        g = r.group;
        state.groups.set(key, Object.assign(state.groups.get(key) || {}, g));
      }
    }
    $('group-name').value = g ? g.name : '';
    $('group-name').disabled = Boolean(g && !g.admin);
    $('group-add-row').hidden = Boolean(g && !g.admin);
    for (const m of (g ? g.members : [])) {
      const label = m.id.startsWith('@') ? m.id : `${m.name || 'LAN colleague'} (${m.fingerprint || m.id.slice(0, 12)})`;
      const remove = g.admin && !m.me
        ? el('button', { class: 'btn small', type: 'button', text: 'Remove', 'aria-label': `Remove ${label}`,
          onclick: async () => {
            const r = await main.request({ cmd: 'group_remove', group: key.slice(2), member: m.id });
            if (!r.ok) toast(r.message || 'not removed', true);
            openGroupDialog(key);
          } }) : null;
      $('group-members').append(el('li', { class: 'dir-entry' },
        el('span', { class: 'who' }, el('strong', { text: label }),
          el('span', { class: 'line', text: [m.admin ? 'admin' : '', m.me ? 'you' : ''].filter(Boolean).join(' · ') })),
        remove));
    }
    if (!d.open) d.showModal();
  }

  async function submitGroupDialog() {
    const key = $('group-dialog').dataset.key;
    const name = $('group-name').value.trim();
    const add = $('group-add').value.split(',').map((x) => x.trim()).filter(Boolean);
    let r = { ok: true };
    if (!key) {
      if (!name) {
        $('group-note').textContent = 'Give the group a name.';
        return;
      }
      r = await main.request({ cmd: 'group_create', name, members: add });
      if (r.ok) {
        $('group-dialog').close();
        const k = `g:${r.group.id}`;
        state.groups.set(k, r.group);
        renderGroups();
        openConversation(k, true);
        return;
      }
    } else {
      const g = state.groups.get(key) || {};
      if (name && name !== g.name) r = await main.request({ cmd: 'group_rename', group: key.slice(2), name });
      if (r.ok && add.length) r = await main.request({ cmd: 'group_invite', group: key.slice(2), members: add });
      if (r.ok) {
        state.groups.set(key, Object.assign(g, r.group || {}));
        renderGroups();
        renderConvHead();
        $('group-dialog').close();
        return;
      }
    }
    $('group-note').textContent = r.message || 'the request failed';
  }

  function bindGroups() {
    $('group-new').addEventListener('click', () => openGroupDialog(null));
    $('group-manage').addEventListener('click', () => openGroupDialog(state.current));
    $('group-cancel').addEventListener('click', () => $('group-dialog').close());
    $('group-form').addEventListener('submit', (e) => {
      e.preventDefault();
      submitGroupDialog();
    });
    $('group-leave').addEventListener('click', async () => {
      const key = $('group-dialog').dataset.key;
      const r = await main.request({ cmd: 'group_leave', group: key.slice(2) });
      if (!r.ok) {
        $('group-note').textContent = r.message || 'could not leave';
        return;
      }
      $('group-dialog').close();
      state.groups.set(key, Object.assign(state.groups.get(key) || {}, r.group));
      renderGroups();
      renderConvHead();
    });
    // Delete: from this node only (a member leaves first: the others see a
    // leave); its history goes. A second click confirms.
    $('group-delete').addEventListener('click', async () => {
      const key = $('group-dialog').dataset.key;
      const b = $('group-delete');
      if (!b.dataset.armed) {
        b.dataset.armed = '1';
        b.textContent = 'Delete it and its history';
        $('group-note').textContent = 'Deleting leaves the group (if you are a member) and removes its messages from this device. Click again to delete.';
        return;
      }
      const r = await main.request({ cmd: 'group_delete', group: key.slice(2) });
      if (!r.ok) {
        $('group-note').textContent = r.message || 'could not delete';
        return;
      }
      $('group-dialog').close();
      forgetGroup(key);
      toast(`Deleted the group ${r.name}`);
    });
  }

  // A group deleted here (by this page or another client): gone from the
  // list, its conversation closed.
  function forgetGroup(key) {
    state.groups.delete(key);
    state.convs.delete(key);
    if (state.current === key) {
      state.current = null;
      $('conv').hidden = true;
      $('welcome').hidden = false;
    }
    renderGroups();
  }

  // ------------------------------------------------------ finding messages

  // The search box also finds messages in every conversation and group
  // (the node's full-text search); a result opens its conversation at it.
  const findMessages = debounce(async (q) => {
    const box = $('found');
    if (q.length < 2) {
      box.hidden = true;
      return;
    }
    const r = await main.request({ cmd: 'find', text: q, limit: 20 });
    if (q !== state.search) return;
    const list = $('found-list');
    list.replaceChildren();
    for (const res of (r.ok ? r.results : [])) {
      const c = res.conversation;
      const m = res.message;
      const key = c.kind === 'group' ? `g:${c.group}` : c.peer;
      const where = c.kind === 'group' ? `${c.name || 'group'} (group)` : c.name || c.account || 'conversation';
      list.append(el('li', {}, el('button', {
        class: 'contact', type: 'button',
        'aria-label': `${where}: ${m.body}`,
        onclick: () => openAt(key, m.id),
      }, el('span', { class: 'who' },
        el('span', { class: 'name', text: where }),
        el('span', { class: 'line', text: m.body.split('\n')[0] })),
      el('span', { class: 'side' }, el('span', { class: 'when', text: shortTime(m.ts) })))));
    }
    $('found-note').textContent = r.ok ? (r.results.length ? '' : 'No message matches.') : (r.message || '');
    box.hidden = false;
  }, 350);

  async function openAt(key, id) {
    if (isGroup(key) && !state.groups.has(key)) await loadGroups();
    await openConversation(key, false);
    const node = document.querySelector(`#messages li[data-id="${id}"]`);
    if (!node) return;
    node.scrollIntoView({ block: 'center' });
    node.classList.add('found');
    window.setTimeout(() => node.classList.remove('found'), 2500);
  }

  function bindGlobal() {
    $('search').addEventListener('input', (e) => {
      state.search = e.target.value.trim();
      renderContacts();
      searchDirectory(state.search);
      findMessages(state.search);
    });
    $('search').addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.target.value = '';
        state.search = '';
        renderContacts();
        $('directory').hidden = true;
        $('found').hidden = true;
      } else if (e.key === 'ArrowDown') {
        const first = document.querySelector('#contact-list .contact');
        if (first) first.focus();
        e.preventDefault();
      }
    });
    document.addEventListener('keydown', (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'k') {
        e.preventDefault();
        $('search').focus();
      } else if (e.altKey && (e.key === 'ArrowDown' || e.key === 'ArrowUp')) {
        const keys = sortedPeers().map(([k]) => k);
        if (keys.length === 0) return;
        const i = keys.indexOf(state.current);
        const next = keys[(i + (e.key === 'ArrowDown' ? 1 : keys.length - 1)) % keys.length];
        e.preventDefault();
        openConversation(next, true);
      }
    });
    $('status-select').addEventListener('change', async (e) => {
      const r = await slow.request({ cmd: 'status', status: e.target.value });
      if (!r.ok) toast(r.message || 'status not changed', true);
    });
    window.addEventListener('focus', markRead);
    document.addEventListener('visibilitychange', markRead);
    document.addEventListener('visibilitychange', readNotices);
    darkQuery.addEventListener('change', applyTheme);
  }

  function connState(text, bad) {
    const c = $('conn-state');
    c.textContent = text;
    c.classList.toggle('bad', !!bad);
  }

  async function keyIsWrong() {
    try {
      const r = await fetch(`/ws?t=${encodeURIComponent(state.token)}`, { cache: 'no-store' });
      return r.status === 403;
    } catch (err) {
      return false;
    }
  }

  function start() {
    state.token = takeKey();
    if (!state.token) {
      showLock();
      return;
    }
    $('app').hidden = false;
    applyTheme();
    bindComposer();
    bindDrop();
    bindDialogs();
    bindGroups();
    bindGlobal();
    main = new Channel('main', onEvent);
    slow = new Channel('slow', () => {});
    let everOpen = false;
    main.onopen = () => {
      everOpen = true;
      connState('');
      loadAll();
    };
    main.onclose = async (was) => {
      // The node makes a new key at every start: after a restart the one
      // kept here opens nothing, and retrying would only send it on.
      if (await keyIsWrong()) {
        main.stopped = true;
        slow.stopped = true;
        showLock(everOpen
          ? 'Your node started again with a new key: run banter open again.'
          : 'This key does not open this node (it may have a new one): run banter open again.');
        return;
      }
      connState(was ? 'Lost the connection to your node: reconnecting…' : 'Cannot reach your node: is it running? Retrying…', true);
    };
    main.connect();
    slow.connect();
  }

  window.Banter = { state }; // for tests and the curious: read-only use
  document.addEventListener('DOMContentLoaded', start);
})();
