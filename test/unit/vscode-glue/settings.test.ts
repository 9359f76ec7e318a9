import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { completionOptions, DEFAULT_SETTINGS, optionsKey, readSettings, RELOAD_SETTINGS, resolveFolder } from '../../../src/vscode/settings';

describe('vscode-glue: settings', () => {
  it('reads valid values and clamps or replaces invalid ones', () => {
    const raw: Record<string, unknown> = { temperature: 9, maxTokens: 12.6, grammarMode: 'aligned', healingMode: 'bogus', debounceMs: -5, attributes: { documented: 2, typed: 'x', unsafe: -99 }, enableInline: false };
    const s = readSettings((k) => raw[k]);
    assert.equal(s.temperature, 2);
    assert.equal(s.maxTokens, 13);
    assert.equal(s.grammarMode, 'aligned');
    assert.equal(s.healingMode, DEFAULT_SETTINGS.healingMode);
    assert.equal(s.debounceMs, 0);
    assert.deepEqual(s.attributes, { documented: 2, unsafe: -10 });
    assert.equal(s.enableInline, false);
    assert.deepEqual(readSettings(() => undefined), DEFAULT_SETTINGS);
  });

  it('every setting in package.json has a description and a default that readSettings accepts', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../package.json'), 'utf8'));
    const props = pkg.contributes.configuration.properties as Record<string, { default: unknown; description?: string; markdownDescription?: string }>;
    const defaults: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(props)) {
      assert.ok(v.description || v.markdownDescription, `${k} has no description`);
      defaults[k.replace(/^trellis\./, '')] = v.default;
    }
    assert.deepEqual(readSettings((k) => defaults[k]), DEFAULT_SETTINGS);
    for (const k of Object.keys(DEFAULT_SETTINGS)) assert.ok(`trellis.${k}` in props, `trellis.${k} missing from package.json`);
    for (const k of RELOAD_SETTINGS) assert.ok(pkg.capabilities.untrustedWorkspaces.restrictedConfigurations.includes(k));
  });

  it('maps settings to engine options (single-line stops at a line break, zero weights dropped)', () => {
    const s = { ...DEFAULT_SETTINGS, attributes: { documented: 2, typed: 0 }, maxTokens: 40, infillMaxTokens: 100 };
    const inline = completionOptions(s, 'inline', true);
    assert.deepEqual(inline.stop, ['\n']);
    assert.equal(inline.maxTokens, 40);
    assert.deepEqual(inline.attributes, { documented: 2 });
    assert.equal(completionOptions(s, 'infill').maxTokens, 100);
    assert.notEqual(optionsKey(inline), optionsKey(completionOptions(s, 'inline', false)));
  });

  it('uses a workspace model folder only in a trusted workspace', () => {
    const opts = { defaultDir: '/ext/models/trellis-code-tiny', workspaceDir: '/ws', homeDir: '/home/u' };
    assert.deepEqual(resolveFolder({ workspaceValue: 'models/m' }, { ...opts, trusted: true }), { dir: '/ws/models/m', source: 'workspace' });
    assert.deepEqual(resolveFolder({ workspaceValue: 'models/m' }, { ...opts, trusted: false }), { dir: opts.defaultDir, source: 'default', ignoredWorkspaceValue: 'models/m' });
    assert.deepEqual(resolveFolder({ workspaceValue: '/evil', globalValue: '~/m' }, { ...opts, trusted: false }), { dir: '/home/u/m', source: 'user', ignoredWorkspaceValue: '/evil' });
    assert.deepEqual(resolveFolder({ globalValue: '  ' }, { ...opts, trusted: true }), { dir: opts.defaultDir, source: 'default', ignoredWorkspaceValue: undefined });
  });
});
