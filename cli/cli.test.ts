import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DEFAULT_CONFIG } from '../api/schema/config.js';
import { loadManifests, parseManifests } from './load.js';
import { selectVm } from './play.js';
import { renderReport } from './render.js';
import { validateReport } from './validate.js';

const examples = readdirSync('examples')
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => join('examples', f));

describe('examples', () => {
  it('all validate together', async () => {
    const report = validateReport(await loadManifests(examples));
    expect(report.err).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.out.length).toBeGreaterThanOrEqual(5);
  });

  it.each(examples)('%s renders a launcher pod', async (file) => {
    const report = renderReport(await loadManifests(examples.filter((f) => f === file || f.endsWith('class.yaml'))), DEFAULT_CONFIG);
    expect(report.ok).toBe(true);
  });
});

describe('validateReport', () => {
  it('names file, line, object and field path of every problem', () => {
    const docs = parseManifests(
      'apiVersion: kubevmm.io/v1alpha1\nkind: VirtualMachine\nmetadata: {name: a}\nspec: {memory: {guest: 1Gi}}\n---\n' +
        'apiVersion: kubevmm.io/v1alpha1\nkind: VirtualMachine\nmetadata: {name: b, namespace: x}\nspec:\n  memroy: {guest: 1Gi}\n',
      'vms.yaml',
    );
    const report = validateReport(docs);
    expect(report.ok).toBe(false);
    expect(report.out).toEqual(['vms.yaml:1: VirtualMachine a: valid']);
    expect(report.err).toEqual([
      'vms.yaml:6: VirtualMachine x/b: spec.memroy: unknown field "memroy"; did you mean "memory"?',
    ]);
  });

  it('fails on empty input rather than passing nothing', () => {
    expect(validateReport([]).ok).toBe(false);
  });

  it('reports YAML syntax errors with file and line', () => {
    expect(() => parseManifests('a: [1, 2\nb: 3\n', 'bad.yaml')).toThrow(/^bad\.yaml:\d+:\d+: invalid YAML/);
  });

  it('says a hostile, deeply nested file is nested too deeply, not that a stack overflowed', () => {
    const deep = `spec: ${'{x: '.repeat(5000)}{}${'}'.repeat(5000)}\n`;
    expect(() => parseManifests(deep, 'deep.yaml')).toThrow(/^deep\.yaml:.*invalid YAML: nested too deeply \(no kubevmm manifest nests more than 32 levels\)$/);
    expect(() => parseManifests(`${'['.repeat(5000)}${']'.repeat(5000)}`, 'deep.yaml')).toThrow(/nested too deeply/);
  });
});

describe('renderReport', () => {
  it('uses the class from the same input and the given operator config', async () => {
    const report = renderReport(await loadManifests(['examples/class.yaml']), { ...DEFAULT_CONFIG, accelerator: 'tcg' });
    expect(report.ok).toBe(true);
    const pod = parse(report.ok ? report.yaml : '');
    expect(pod.spec.containers[0].resources).toEqual({ requests: { cpu: '200m', memory: '4268Mi' }, limits: { memory: '4268Mi' } });
  });

  it('refuses to render an invalid VM', () => {
    const report = renderReport(parseManifests('apiVersion: kubevmm.io/v1alpha1\nkind: VirtualMachine\nmetadata: {name: a}\nspec: {}\n', 'a.yaml'), DEFAULT_CONFIG);
    expect(report).toEqual({ ok: false, errors: ['VirtualMachine a: spec.memory.guest: is required (no className gives it); set a size such as 2Gi'] });
  });
});

describe('selectVm', () => {
  it('gives the VM spare hotplug ports only with --watch: without it nothing can be attached later', async () => {
    const docs = await loadManifests(['examples/quickstart.yaml']);
    expect(selectVm(docs, { accel: 'tcg' }).hotplugPorts).toBe(0);
    expect(selectVm(docs, { accel: 'tcg', watchFile: 'examples/quickstart.yaml' }).hotplugPorts).toBe(DEFAULT_CONFIG.hotplugPorts);
  });
});
