// The sidebar webview (browser code): renders the state the extension sends and asks for setting
// changes; it never keeps its own copy of a setting. View state (open sections, last statistics)
// survives hide/show through getState/setState. Knows only the protocol.
import {
  GRAMMAR_MODES,
  HEALING_MODES,
  LIMITS,
  type ExtensionToWebview,
  type SidebarModel,
  type SidebarSettings,
  type StatsEntry,
  type EngineStatus,
  type WebviewToExtension,
  type WebviewViewState,
} from '../protocol/webview';

interface VsCodeApi {
  postMessage(msg: WebviewToExtension): void;
  getState(): WebviewViewState | undefined;
  setState(state: WebviewViewState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
let viewState: WebviewViewState = vscode.getState() ?? { open: { steering: true, sampling: true, stats: true }, stats: [] };
let current: { settings: SidebarSettings; model: SidebarModel | null; status: EngineStatus } | undefined;

const app = document.getElementById('app') as HTMLElement;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

function saveState(): void {
  vscode.setState(viewState);
}

function section(id: string, title: string, ...body: Node[]): HTMLDetailsElement {
  const d = el('details', { id: `section-${id}` }, el('summary', {}, title), ...body);
  d.open = viewState.open[id] ?? true;
  d.addEventListener('toggle', () => {
    viewState = { ...viewState, open: { ...viewState.open, [id]: d.open } };
    saveState();
  });
  return d;
}

/** A labelled range input; `onCommit` fires on change (release or keyboard step), not on every drag pixel. */
function slider(id: string, label: string, value: number, r: { min: number; max: number; step: number }, format: (v: number) => string, onCommit: (v: number) => void, title = ''): HTMLElement {
  const out = el('output', { for: id, id: `${id}-value` }, format(value));
  const input = el('input', { type: 'range', id, min: String(r.min), max: String(r.max), step: String(r.step), value: String(value), 'aria-label': label });
  input.addEventListener('input', () => (out.textContent = format(Number(input.value))));
  input.addEventListener('change', () => onCommit(Number(input.value)));
  return el('div', { class: 'row', title }, el('label', { for: id }, label), input, out);
}

function select(id: string, label: string, value: string, options: readonly string[], onCommit: (v: string) => void): HTMLElement {
  const s = el('select', { id, 'aria-label': label }, ...options.map((o) => el('option', { value: o }, o)));
  s.value = value;
  s.addEventListener('change', () => onCommit(s.value));
  return el('div', { class: 'row' }, el('label', { for: id }, label), s);
}

const post = (m: WebviewToExtension) => vscode.postMessage(m);
const signed = (v: number) => (v > 0 ? `+${v}` : String(v));

function renderSteering(model: SidebarModel | null, settings: SidebarSettings): HTMLElement {
  if (!model) return el('p', { class: 'muted' }, 'No model loaded yet.');
  if (model.attributes.length === 0) {
    return el('p', { class: 'muted', id: 'no-discriminator' }, 'No discriminator loaded, so there is nothing to steer. Set trellis.gediPath to a GeDi model folder to get one slider per attribute.');
  }
  return el(
    'div',
    {},
    ...model.attributes.map((a) =>
      slider(
        `attr-${a.name}`,
        a.name,
        settings.attributes[a.name] ?? 0,
        { min: -a.maxWeight, max: a.maxWeight, step: LIMITS.attributeWeight.step },
        signed,
        (w) => post({ type: 'setAttribute', name: a.name, weight: w }),
        `${a.description} (+ toward ${a.positiveCode}, − toward ${a.negativeCode})`,
      ),
    ),
  );
}

function renderSampling(s: SidebarSettings): HTMLElement {
  const toggle = el('input', { type: 'checkbox', id: 'enableInline' });
  toggle.checked = s.enableInline;
  toggle.addEventListener('change', () => post({ type: 'setSetting', key: 'enableInline', value: toggle.checked }));
  return el(
    'div',
    {},
    el('div', { class: 'row' }, el('label', { for: 'enableInline', title: 'Inline completions (ghost text) while typing' }, 'Inline'), toggle),
    slider('temperature', 'Temperature', s.temperature, LIMITS.temperature, (v) => v.toFixed(2), (v) => post({ type: 'setSetting', key: 'temperature', value: v })),
    slider('maxTokens', 'Max tokens', s.maxTokens, LIMITS.maxTokens, String, (v) => post({ type: 'setSetting', key: 'maxTokens', value: v })),
    select('grammarMode', 'Grammar', s.grammarMode, GRAMMAR_MODES, (v) => post({ type: 'setSetting', key: 'grammarMode', value: v as SidebarSettings['grammarMode'] })),
    select('healingMode', 'Healing', s.healingMode, HEALING_MODES, (v) => post({ type: 'setSetting', key: 'healingMode', value: v as SidebarSettings['healingMode'] })),
  );
}

function renderStats(rows: StatsEntry[]): HTMLElement {
  if (rows.length === 0) return el('p', { class: 'muted', id: 'stats-empty' }, 'No completions yet.');
  const head = el('tr', {}, ...['', 'ms', 'tok/s', 'tok', 'mask', 'heal', 'stop'].map((h) => el('th', {}, h)));
  const body = rows.slice(0, 10).map((r) =>
    el(
      'tr',
      { title: `${r.kind} ${r.languageId}, first token after ${r.firstTokenMs} ms, healing ${r.healing} (${r.healingCovers} covers), ${new Date(r.at).toLocaleTimeString()}` },
      el('td', { title: r.kind }, r.kind === 'inline' ? 'inl' : 'fill'),
      el('td', { class: 'num' }, String(r.latencyMs)),
      el('td', { class: 'num' }, r.tokensPerSecond.toFixed(0)),
      el('td', { class: 'num' }, String(r.generatedTokens)),
      el('td', { class: 'num' }, `${Math.round(r.maskedShare * 100)}%`),
      el('td', {}, r.healing),
      el('td', {}, r.stopReason),
    ),
  );
  return el('div', { class: 'table' }, el('table', { id: 'stats' }, el('thead', {}, head), el('tbody', {}, ...body)));
}

function button(label: string, command: 'reloadModel' | 'selectModelFolder' | 'showLogs'): HTMLButtonElement {
  const b = el('button', { type: 'button', class: 'secondary' }, label);
  b.addEventListener('click', () => post({ type: 'command', command }));
  return b;
}

function render(): void {
  if (!current) return;
  const { settings, model, status } = current;
  const focused = document.activeElement?.id;
  const header = el(
    'header',
    {},
    el('span', { class: `badge ${status.state}`, id: 'status' }, status.state),
    el('span', { class: 'model', title: model?.directory ?? '' }, model ? model.name : status.state === 'error' ? 'no model' : status.detail ?? 'no model'),
  );
  if (status.state === 'error' && status.detail) header.append(el('p', { class: 'error', id: 'error' }, status.detail));
  app.replaceChildren(
    header,
    section('steering', 'Steering', renderSteering(model, settings)),
    section('sampling', 'Sampling', renderSampling(settings)),
    section('stats', 'Last completions', renderStats(viewState.stats)),
    el('div', { class: 'buttons' }, button('Reload model', 'reloadModel'), button('Model folder…', 'selectModelFolder'), button('Logs', 'showLogs')),
  );
  // Re-rendering replaces the inputs; keep keyboard focus where the user left it.
  if (focused) document.getElementById(focused)?.focus();
}

/** What decides the DOM's shape; when it is unchanged, values are updated in place. */
function structureOf(c: NonNullable<typeof current>): string {
  return JSON.stringify([c.model?.name, c.model?.attributes.map((a) => [a.name, a.maxWeight]), c.status.state === 'error' ? c.status.detail : '']);
}

let dragging = false;
document.addEventListener('pointerdown', () => (dragging = true));
document.addEventListener('pointerup', () => (dragging = false));

/** Sets input values from the settings, leaving alone a slider the user is dragging right now. */
function updateValues(s: SidebarSettings): void {
  const set = (id: string, value: string, text?: string) => {
    const input = document.getElementById(id) as HTMLInputElement | HTMLSelectElement | null;
    if (!input || (dragging && document.activeElement === input)) return;
    input.value = value;
    const out = document.getElementById(`${id}-value`);
    if (out && text !== undefined) out.textContent = text;
  };
  set('temperature', String(s.temperature), s.temperature.toFixed(2));
  set('maxTokens', String(s.maxTokens), String(s.maxTokens));
  set('grammarMode', s.grammarMode);
  set('healingMode', s.healingMode);
  for (const a of current?.model?.attributes ?? []) {
    const w = s.attributes[a.name] ?? 0;
    set(`attr-${a.name}`, String(w), signed(w));
  }
  const toggle = document.getElementById('enableInline') as HTMLInputElement | null;
  if (toggle) toggle.checked = s.enableInline;
  const badge = document.getElementById('status');
  if (badge && current) {
    badge.textContent = current.status.state;
    badge.className = `badge ${current.status.state}`;
  }
}

window.addEventListener('message', (event: MessageEvent<ExtensionToWebview>) => {
  const msg = event.data;
  if (msg.type === 'state') {
    const previous = current ? structureOf(current) : undefined;
    current = { settings: msg.settings, model: msg.model, status: msg.status };
    if (previous === structureOf(current)) updateValues(msg.settings);
    else render();
  } else if (msg.type === 'stats') {
    viewState = { ...viewState, stats: msg.entries.slice(0, 10) };
    saveState();
    const table = document.getElementById('section-stats');
    if (table && current) table.replaceChildren(table.querySelector('summary') as Node, renderStats(viewState.stats));
  }
});

post({ type: 'ready' });
