'use strict';
(function () {
  const STATE_URL = './api/v1/state';
  const PER_GPU_MAX_NODES = 2000;  // above: one cell per node ("auto")
  const MAX_GANG_ROWS = 2000;
  // The gang view is paged (namespace/name order): the page asks for one page of its row limit.
  const GANGS_URL = './api/v1/gangs?limit=' + MAX_GANG_ROWS;
  const FREE = 0, USED = 1, HELD = 2;
  const css = getComputedStyle(document.documentElement);
  const COLOR = [css.getPropertyValue('--free').trim(), css.getPropertyValue('--used').trim(),
                 css.getPropertyValue('--held').trim()];
  const NO_GPU = css.getPropertyValue('--none').trim();
  const PHASE_ORDER = { Waiting: 0, Planned: 1, Binding: 2, Bound: 3 };
  const PHASE_CLASS =
      { Waiting: 'waiting', Planned: 'planned', Binding: 'binding', Bound: 'bound' };
  const collator = new Intl.Collator(undefined, { numeric: true });

  const byId = (id) => document.getElementById(id);
  // The only way API text enters the page: as text.
  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  const num = (v) => (typeof v === 'number' && isFinite(v) ? v : 0);
  const plural = (n, word) => n + ' ' + word + (n === 1 ? '' : 's');
  const seconds = (ms) => Math.max(0, Math.round(num(ms) / 1000)) + ' s';

  let state = null, gangs = null, lastGood = null, timer = null, busy = false;
  let selectedGang = '';
  let model = null;  // the heat map's view of the last state, rebuilt when data or selection change
  let layout = { signature: '', racks: [], domains: [] };

  // ---- fetching ---------------------------------------------------------------------------------
  async function fetchJson(url) {
    let res;
    try {
      res = await fetch(url, { cache: 'no-store', headers: { Accept: 'application/json' } });
    } catch (e) {
      const err = new Error(url + ': no answer (' + e.message + ')');
      err.unreachable = true;
      throw err;
    }
    if (!res.ok) {
      let detail = '';
      try { detail = (await res.json()).Error || ''; } catch (e) { /* not JSON */ }
      throw new Error(url + ': HTTP ' + res.status + (detail ? ' (' + detail + ')' : ''));
    }
    try {
      return await res.json();
    } catch (e) {
      throw new Error(url + ': the answer is not JSON (' + e.message + ')');
    }
  }

  async function refresh() {
    clearTimeout(timer);
    if (busy) return;
    busy = true;
    const [s, g] = await Promise.allSettled([fetchJson(STATE_URL), fetchJson(GANGS_URL)]);
    busy = false;
    if (s.status === 'fulfilled') state = s.value;
    if (g.status === 'fulfilled') gangs = g.value;
    const failed = [s, g].filter((r) => r.status === 'rejected').map((r) => r.reason);
    if (failed.length === 0) lastGood = new Date();
    showErrors(failed);
    render();
    schedule();
  }

  function schedule() {
    clearTimeout(timer);
    const ms = Number(byId('interval').value);
    if (ms > 0) timer = setTimeout(refresh, ms);
  }

  function showErrors(failed) {
    const line = byId('error');
    if (failed.length === 0) { line.hidden = true; line.textContent = ''; return; }
    const hint = failed.some((e) => e.unreachable) ?
        ' — is gangsched running, the port-forward up?' : '';
    line.textContent = 'Cannot refresh: ' + failed.map((e) => e.message).join('; ') + hint +
        (lastGood ? '. Showing data from ' + lastGood.toLocaleTimeString() + '.' : '');
    line.hidden = false;
  }

  // ---- model ------------------------------------------------------------------------------------
  // Per node: GPU cells (FREE/USED/HELD per GPU index when free_gpu_ids and the holds' gpu_ids
  // account for every GPU, else laid out from the counts), and the gangs whose plans use it.
  function buildModel() {
    const levels = Array.isArray(state.levels) ? state.levels.map(String) : [];
    const heldIds = new Map();
    for (const h of state.holds || []) {
      for (const p of h.pods || []) {
        if (!heldIds.has(p.node)) heldIds.set(p.node, new Set());
        for (const id of p.gpu_ids || []) heldIds.get(p.node).add(id);
      }
    }
    const gangsOn = new Map();
    const selected = new Set();
    for (const g of (gangs && gangs.gangs) || []) {
      const key = g.namespace + '/' + g.name;
      for (const p of (g.plan && g.plan.pods) || []) {
        if (!gangsOn.has(p.node)) gangsOn.set(p.node, new Set());
        gangsOn.get(p.node).add(key);
        if (key === selectedGang) selected.add(p.node);
      }
    }
    const groups = new Map();
    let maxGpus = 1;
    for (const n of state.nodes || []) {
      const path = Array.isArray(n.domains) ? n.domains.map(String) : [];
      const key = path.join('\n');
      if (!groups.has(key)) groups.set(key, { key, path, nodes: [] });
      const gpus = n.gpus || {};
      const node = {
        name: String(n.name), path, raw: n,
        alloc: num(gpus.allocatable), used: num(gpus.used), held: num(gpus.held),
        free: num(gpus.free), unschedulable: !!n.unschedulable, gangs: gangsOn.get(n.name),
        selected: selected.has(n.name),
      };
      node.cells = gpuCells(node, n.free_gpu_ids, heldIds.get(n.name));
      maxGpus = Math.max(maxGpus, node.alloc);
      groups.get(key).nodes.push(node);
    }
    const list = [...groups.values()];
    list.sort((a, b) => {
      for (let i = 0; i < Math.min(a.path.length, b.path.length); i++) {
        const c = collator.compare(a.path[i], b.path[i]);
        if (c !== 0) return c;
      }
      return a.path.length - b.path.length;
    });
    for (const g of list) g.nodes.sort((a, b) => collator.compare(a.name, b.name));
    return { levels, groups: list, maxGpus, nodes: (state.nodes || []).length };
  }

  function gpuCells(node, freeIds, heldIds) {
    const n = Math.min(Math.max(node.alloc, 0), 256);
    const cells = new Uint8Array(n);
    const free = new Set(Array.isArray(freeIds) ? freeIds : []);
    if (free.size === node.free && n <= 64 && [...free].every((i) => i >= 0 && i < n)) {
      for (let i = 0; i < n; i++) cells[i] = free.has(i) ? FREE : USED;
      let held = node.held;
      for (let i = 0; i < n && held > 0; i++) {
        if (cells[i] === USED && heldIds && heldIds.has(i)) { cells[i] = HELD; held--; }
      }
      for (let i = n - 1; i >= 0 && held > 0; i--) {
        if (cells[i] === USED) { cells[i] = HELD; held--; }
      }
      return cells;
    }
    let i = 0;
    for (let k = 0; k < node.used && i < n; k++) cells[i++] = USED;
    for (let k = 0; k < node.held && i < n; k++) cells[i++] = HELD;
    return cells;
  }

  // ---- heat map ---------------------------------------------------------------------------------
  function geometry(model) {
    const mode = byId('mode').value;
    const perGpu = mode === 'gpu' || (mode === 'auto' && model.nodes <= PER_GPU_MAX_NODES);
    if (!perGpu) return { perGpu, w: 10, h: 10, perRow: 16 };
    const m = Math.min(model.maxGpus, 64);
    const rows = m <= 4 ? 1 : m <= 16 ? 2 : Math.ceil(m / 8);
    const cols = Math.ceil(m / rows);
    const g = 7;
    return { perGpu, g, cols, w: cols * g + 4, h: rows * g + 4, perRow: cols > 4 ? 4 : 8 };
  }

  function levelName(model, depth) {
    return model.levels[depth] || 'domain';
  }

  function totals(nodes) {
    const t = { alloc: 0, used: 0, held: 0, free: 0 };
    for (const n of nodes) {
      t.alloc += n.alloc; t.used += n.used; t.held += n.held; t.free += n.free;
    }
    return t;
  }
  function totalsText(t, count) {
    return plural(count, 'node') + ' · ' + t.used + ' used · ' + t.held + ' held · ' + t.free +
        ' free of ' + t.alloc + ' GPUs';
  }

  function renderHeatmap(model) {
    const geo = geometry(model);
    const signature = (geo.perGpu ? 'gpu' : 'node') + geo.w + 'x' + geo.h + '|' +
        model.groups.map((g) => g.key + ':' + g.nodes.length).join('|');
    if (signature !== layout.signature) buildLayout(model, geo, signature);
    const find = byId('find').value.trim().toLowerCase();
    for (const d of layout.domains) {
      const nodes = model.groups.filter((g) => g.key.startsWith(d.key)).flatMap((g) => g.nodes);
      d.stats.textContent = totalsText(totals(nodes), nodes.length);
    }
    layout.racks.forEach((r, i) => {
      r.group = model.groups[i];
      r.stats.textContent = totalsText(totals(r.group.nodes), r.group.nodes.length);
      drawRack(r, geo, find);
    });
  }

  function buildLayout(model, geo, signature) {
    const root = byId('heatmap');
    const frag = document.createDocumentFragment();
    layout = { signature, racks: [], domains: [] };
    let outerKey = null, container = null;
    for (const group of model.groups) {
      const outer = group.path.slice(0, -1);
      const key = outer.join('\n') + '\n';
      if (key !== outerKey || !container) {
        outerKey = key;
        if (outer.length > 0) {
          const head = el('h3', 'domain',
              outer.map((v, i) => levelName(model, i) + ' ' + v).join(' › ') + '  ');
          const stats = el('span', 'muted');
          head.appendChild(stats);
          frag.appendChild(head);
          layout.domains.push({ key, stats });
        }
        container = el('div', 'racks');
        frag.appendChild(container);
      }
      const box = el('div', 'rack');
      const head = el('div', 'rack-head');
      const depth = group.path.length - 1;
      head.appendChild(el('span', 'rack-name',
          depth >= 0 ? levelName(model, depth) + ' ' + group.path[depth] : 'all nodes'));
      const stats = el('span', 'muted');
      head.appendChild(stats);
      box.appendChild(head);
      const canvas = document.createElement('canvas');
      const n = group.nodes.length;
      const perRow = Math.max(1, Math.min(n, geo.perRow));
      const width = perRow * geo.w, height = Math.ceil(n / perRow) * geo.h;
      const dpr = window.devicePixelRatio || 1;
      canvas.width = Math.ceil(width * dpr);
      canvas.height = Math.ceil(height * dpr);
      canvas.style.width = width + 'px';
      canvas.style.height = height + 'px';
      box.appendChild(canvas);
      container.appendChild(box);
      const rack = { canvas, stats, group, perRow, dpr };
      canvas.addEventListener('mousemove', (e) => showTip(rack, geo, e));
      canvas.addEventListener('mouseleave', hideTip);
      layout.racks.push(rack);
    }
    root.replaceChildren(frag);
  }

  function drawRack(rack, geo, find) {
    const ctx = rack.canvas.getContext('2d');
    ctx.setTransform(rack.dpr, 0, 0, rack.dpr, 0, 0);
    ctx.clearRect(0, 0, rack.canvas.width, rack.canvas.height);
    rack.group.nodes.forEach((node, i) => {
      const x = (i % rack.perRow) * geo.w, y = Math.floor(i / rack.perRow) * geo.h;
      if (geo.perGpu) drawNodeGpus(ctx, x, y, node, geo); else drawNodeCell(ctx, x, y, node, geo);
      if (node.unschedulable) {
        ctx.strokeStyle = '#212529';
        ctx.lineWidth = 1.5;
        ctx.beginPath();
        ctx.moveTo(x + 1, y + geo.h - 1);
        ctx.lineTo(x + geo.w - 1, y + 1);
        ctx.stroke();
      }
      if (node.selected || (find && node.name.toLowerCase().includes(find))) {
        ctx.strokeStyle = '#000';
        ctx.lineWidth = 2;
        ctx.strokeRect(x + 1, y + 1, geo.w - 2, geo.h - 2);
      }
    });
  }

  function drawNodeGpus(ctx, x, y, node, geo) {
    ctx.fillStyle = '#e9ecef';
    ctx.fillRect(x + 1, y + 1, geo.w - 2, geo.h - 2);
    if (node.cells.length === 0) {
      ctx.fillStyle = NO_GPU;
      ctx.fillRect(x + 2, y + 2, geo.w - 4, geo.h - 4);
      return;
    }
    for (let i = 0; i < node.cells.length; i++) {
      ctx.fillStyle = COLOR[node.cells[i]];
      ctx.fillRect(x + 2 + (i % geo.cols) * geo.g, y + 2 + Math.floor(i / geo.cols) * geo.g,
                   geo.g - 1, geo.g - 1);
    }
  }

  // One cell per node: a bar of used, held and free, in proportion.
  function drawNodeCell(ctx, x, y, node, geo) {
    const w = geo.w - 1, h = geo.h - 1;
    if (node.alloc <= 0) {
      ctx.fillStyle = NO_GPU;
      ctx.fillRect(x, y, w, h);
      return;
    }
    const used = Math.round((w * node.used) / node.alloc);
    const held = Math.round((w * node.held) / node.alloc);
    ctx.fillStyle = COLOR[FREE];
    ctx.fillRect(x, y, w, h);
    ctx.fillStyle = COLOR[USED];
    ctx.fillRect(x, y, used, h);
    ctx.fillStyle = COLOR[HELD];
    ctx.fillRect(x + used, y, Math.min(held, w - used), h);
  }

  // ---- tooltip ----------------------------------------------------------------------------------
  function showTip(rack, geo, e) {
    const box = rack.canvas.getBoundingClientRect();
    const col = Math.floor((e.clientX - box.left) / geo.w);
    const row = Math.floor((e.clientY - box.top) / geo.h);
    const node = col < rack.perRow ? rack.group.nodes[row * rack.perRow + col] : undefined;
    if (!node) { hideTip(); return; }
    const n = node.raw;
    const lines = [node.name];
    if (node.path.length > 0) {
      lines.push(node.path.map((v, i) => levelName(model, i) + ' ' + v).join(' · '));
    }
    if (node.alloc > 0) {
      lines.push('GPUs: ' + node.used + ' used, ' + node.held + ' held, ' + node.free +
          ' free of ' + node.alloc);
      if (Array.isArray(n.free_gpu_ids) && n.free_gpu_ids.length > 0) {
        lines.push('free GPU ids: ' + n.free_gpu_ids.join(', '));
      }
    } else {
      lines.push('no GPUs');
    }
    const cpu = n.milli_cpu || {}, mem = n.memory_bytes || {};
    lines.push('CPU free ' + (num(cpu.free) / 1000).toFixed(1) + ' of ' +
        (num(cpu.allocatable) / 1000).toFixed(1) + ' · memory free ' + gib(mem.free) + ' of ' +
        gib(mem.allocatable) + ' GiB');
    if (node.unschedulable) lines.push('cordoned (unschedulable)');
    if (node.gangs && node.gangs.size > 0) {
      const names = [...node.gangs];
      lines.push('gangs: ' + names.slice(0, 6).join(', ') +
          (names.length > 6 ? ' and ' + (names.length - 6) + ' more' : ''));
    }
    const tip = byId('tip');
    tip.replaceChildren(...lines.map((l) => el('div', '', l)));
    tip.hidden = false;
    const left = Math.min(e.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
    const top = e.clientY + 14 + tip.offsetHeight > window.innerHeight ?
        e.clientY - tip.offsetHeight - 8 : e.clientY + 14;
    tip.style.left = Math.max(0, left) + 'px';
    tip.style.top = Math.max(0, top) + 'px';
  }
  function hideTip() { byId('tip').hidden = true; }
  function gib(bytes) { return (num(bytes) / 1073741824).toFixed(0); }

  // ---- gangs ------------------------------------------------------------------------------------
  function placement(plan) {
    if (!plan) return { text: '—', title: '' };
    const text = plan.span + ' ' + plan.span_domain + ' · ' + plural(num(plan.nodes_used), 'node');
    const title = (plan.pods || []).map((p) => p.role + '-' + p.index + ' → ' + p.node +
        (p.gpu_ids && p.gpu_ids.length ? ' GPUs [' + p.gpu_ids.join(', ') + ']' : '')).join('\n');
    return { text, title };
  }

  function waitText(g) {
    const parts = [];
    if (g.reason) parts.push(String(g.reason));
    if (g.hold_expires_in_ms !== null && g.hold_expires_in_ms !== undefined) {
      parts.push('hold expires in ' + seconds(g.hold_expires_in_ms));
    }
    if (g.backoff_for_ms !== null && g.backoff_for_ms !== undefined) {
      parts.push('backing off for ' + seconds(g.backoff_for_ms));
    }
    return parts.join(' · ');
  }

  function renderGangs() {
    const all = (gangs && Array.isArray(gangs.gangs)) ? gangs.gangs : [];
    const filter = byId('gang-filter').value.trim().toLowerCase();
    const waitingOnly = byId('waiting-only').checked;
    const rows = all.filter((g) => {
      if (waitingOnly && g.phase === 'Bound') return false;
      if (!filter) return true;
      return [g.namespace + '/' + g.name, g.kind, g.phase, g.reason]
          .some((v) => String(v || '').toLowerCase().includes(filter));
    });
    const rank = (g) => (g.phase in PHASE_ORDER ? PHASE_ORDER[g.phase] : 1.5);
    rows.sort((a, b) => rank(a) - rank(b) ||
        collator.compare(a.namespace + '/' + a.name, b.namespace + '/' + b.name));
    const frag = document.createDocumentFragment();
    for (const g of rows.slice(0, MAX_GANG_ROWS)) {
      const key = g.namespace + '/' + g.name;
      const tr = el('tr', key === selectedGang ? 'selected' : '');
      tr.appendChild(el('td', '', key));
      tr.appendChild(el('td', 'sub', g.kind));
      tr.appendChild(el('td', 'phase ' + (PHASE_CLASS[g.phase] || 'other'), g.phase));
      const members = el('td', '', num(g.members_bound) + '/' + num(g.quorum));
      members.appendChild(el('div', 'sub', 'seen ' + num(g.members_seen) + ' · at bind ' +
          num(g.members_arrived)));
      tr.appendChild(members);
      const p = placement(g.plan);
      const td = el('td', '', p.text);
      td.title = p.title;
      tr.appendChild(td);
      tr.appendChild(el('td', 'reason', waitText(g)));
      tr.addEventListener('click', () => {
        selectedGang = selectedGang === key ? '' : key;
        render();
      });
      frag.appendChild(tr);
    }
    byId('gangs').replaceChildren(frag);
    const waiting = all.filter((g) => g.phase !== 'Bound').length;
    const total = Math.max(num(gangs && gangs.total), all.length);
    byId('gangs-note').textContent = all.length === 0 ? 'No gangs yet.' :
        'Showing ' + Math.min(rows.length, MAX_GANG_ROWS) + ' of ' + plural(all.length, 'gang') +
        ' (' + waiting + ' not bound).' +
        (rows.length > MAX_GANG_ROWS ? ' Filter to see the rest.' : '') +
        (total > all.length ? ' The server knows ' + total + ' gangs; this page fetched the ' +
            'first ' + all.length + ' by name (gangsched get gangs lists them all).' : '');
  }

  // ---- page -------------------------------------------------------------------------------------
  function render() {
    if (state) {
      model = buildModel();
      renderHeatmap(model);
      const t = totals(model.groups.flatMap((g) => g.nodes));
      byId('summary').textContent = totalsText(t, model.nodes) + ' · ' +
          plural(num(state.held_binds), 'bind') + ' held at the barrier';
      const notice = byId('notice');
      notice.hidden = state.ready !== false;
      notice.textContent = state.ready === false ?
          'gangsched is not ready: no node inventory is loaded yet.' : '';
    }
    renderGangs();
    if (lastGood) byId('updated').textContent = 'updated ' + lastGood.toLocaleTimeString();
  }

  byId('interval').addEventListener('change', refresh);
  byId('mode').addEventListener('change', () => { if (model) renderHeatmap(model); });
  byId('find').addEventListener('input', () => { if (model) renderHeatmap(model); });
  byId('gang-filter').addEventListener('input', renderGangs);
  byId('waiting-only').addEventListener('change', renderGangs);
  document.addEventListener('visibilitychange', () => { if (!document.hidden) refresh(); });
  refresh();
})();
