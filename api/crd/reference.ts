/**
 * The field reference of docs/api.md, rendered from the same schemas as the CRDs: the CRDs'
 * openAPIV3Schema (so a field's type, bounds and description read the same in the doc and in
 * `kubectl explain`) and the operator configuration's zod schema. `npm run crds` writes it
 * between the GENERATED markers of docs/api.md; a test fails when the doc drifts.
 */
import { z } from 'zod';
import { operatorConfig } from '../schema/config.js';
import { virtualMachineClassCrd, virtualMachineCrd, virtualMachineImageCrd } from './crds.js';

type Node = Record<string, unknown>;
type Props = Record<string, Node>;

const props = (node: Node): Props => (node.properties as Props | undefined) ?? {};
const isObject = (node: Node) => node.type === 'object' && node.properties !== undefined;
const isObjectList = (node: Node) => node.type === 'array' && isObject((node.items as Node | undefined) ?? {});

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
export function anchorOf(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');
}

const code = (v: unknown) => (v === '' ? '`""`' : `\`${String(v)}\``);

function oneOf(values: readonly unknown[]): string {
  const shown = values.map(code);
  return shown.length < 2 ? (shown[0] ?? '') : `${shown.slice(0, -1).join(', ')} or ${shown[shown.length - 1]}`;
}

function range(node: Node): string {
  const { minimum: min, maximum: max } = node as { minimum?: number; maximum?: number };
  if (min !== undefined && max !== undefined) return `, ${min}–${max}`;
  if (min !== undefined) return `, at least ${min}`;
  return max !== undefined ? `, at most ${max}` : '';
}

function stringType(node: Node): string {
  const { minLength, maxLength } = node as { minLength?: number; maxLength?: number };
  const base = minLength ? 'non-empty string' : 'string';
  return maxLength !== undefined ? `${base}, at most ${maxLength} characters` : base;
}

function listType(node: Node, link: string | undefined): string {
  const items = (node.items as Node | undefined) ?? {};
  const max = node.maxItems !== undefined ? `, at most ${String(node.maxItems)}` : '';
  const of = isObject(items) ? (link ? `[objects](#${link})` : 'objects') : typeOf(items, undefined);
  return `list of ${of}${max}`;
}

function objectType(node: Node, link: string | undefined): string {
  if (node['x-kubernetes-preserve-unknown-fields']) return 'object (free-form)';
  if (typeof node.additionalProperties === 'object') return 'map of string to string';
  return link ? `[object](#${link})` : 'object';
}

/** A field's type in words, with a link when it has a section of its own. */
function typeOf(node: Node, link: string | undefined): string {
  if (node.enum) return oneOf(node.enum as unknown[]);
  if (node['x-kubernetes-int-or-string']) return 'quantity (`2Gi`, or bytes as an integer)';
  switch (node.type) {
    case 'integer':
    case 'number':
      return `integer${range(node)}`;
    case 'string':
      return stringType(node);
    case 'boolean':
      return 'boolean';
    case 'array':
      return listType(node, link);
    default:
      return objectType(node, link);
  }
}

/** Table-cell text: pipes escaped, and `<x>` shown rather than read as HTML. */
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\n/g, ' ');

interface Row {
  path: string;
  node: Node;
  required: boolean;
  link?: string;
}

/** Rows for `node`'s fields; nested objects and lists are flattened (`a.b`, `a[].b`) unless `sections` gives them one. */
function rows(node: Node, prefix: string, sections: Map<Node, string>): Row[] {
  const required = new Set((node.required as string[] | undefined) ?? []);
  return Object.entries(props(node)).flatMap(([name, child]) => {
    const path = `${prefix}${name}`;
    const link = sections.get(child);
    const row: Row = { path, node: child, required: required.has(name), ...(link ? { link } : {}) };
    if (link) return [row];
    if (isObject(child)) return [row, ...rows(child, `${path}.`, sections)];
    if (isObjectList(child)) return [row, ...rows(child.items as Node, `${path}[].`, sections)];
    return [row];
  });
}

function table(list: readonly Row[]): string {
  const lines = ['| Field | Type | Description |', '| --- | --- | --- |'];
  for (const r of list) {
    const type = `${typeOf(r.node, r.link)}${r.required ? ', required' : ''}`;
    lines.push(`| \`${r.path}\` | ${cell(type)} | ${cell(String(r.node.description ?? ''))} |`);
  }
  return lines.join('\n');
}

/** One section: a heading, the object's description, its fields. */
interface Section {
  heading: string;
  level: number;
  node: Node;
  /** The field whose section this is (a list's section is about its items). */
  owner?: Node;
}

/**
 * The sections of one kind: spec and status, and (with `split`) each of their object or
 * list-of-object fields, as `#### spec.cpu` and `#### spec.disks[]`.
 */
function kindSections(root: Node, split: boolean, prefix: string): Section[] {
  const out: Section[] = [];
  for (const part of ['spec', 'status']) {
    const node = props(root)[part];
    if (!node) continue;
    out.push({ heading: `${prefix}${part}`, level: 3, node });
    if (!split) continue;
    for (const [name, child] of Object.entries(props(node))) {
      if (isObject(child)) out.push({ heading: `${prefix}${part}.${name}`, level: 4, node: child, owner: child });
      else if (isObjectList(child)) out.push({ heading: `${prefix}${part}.${name}[]`, level: 4, node: child.items as Node, owner: child });
    }
  }
  return out;
}

function renderKind(root: Node, opts: { split: boolean; prefix?: string }): string {
  const sections = kindSections(root, opts.split, opts.prefix ?? '');
  const anchors = new Map(sections.flatMap((s) => (s.owner ? [[s.owner, anchorOf(s.heading)] as const] : [])));
  return sections
    .map((s) => {
      const text = (s.owner ?? s.node).description;
      const description = text ? `${cell(String(text))}\n\n` : '';
      // spec and status link to their fields' sections; inside a section everything is flattened.
      const fields = rows(s.node, '', s.level === 3 ? anchors : new Map());
      return `${'#'.repeat(s.level)} ${s.heading}\n\n${description}${table(fields)}`;
    })
    .join('\n\n');
}

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();

/** The operator configuration: setting (the Helm value), flag and variable, type, default, meaning. */
function renderConfig(): string {
  const json = z.toJSONSchema(operatorConfig, { target: 'openapi-3.0', io: 'input' }) as Node;
  const lines = ['| Setting (Helm value) | Flag, variable | Type | Default | Description |', '| --- | --- | --- | --- | --- |'];
  for (const [name, node] of Object.entries(props(json))) {
    const flags = `\`--${kebab(name)}\`, \`KUBEVMM_${snake(name)}\``;
    lines.push(`| \`${name}\` | ${flags} | ${cell(typeOf(node, undefined))} | ${code(node.default)} | ${cell(String(node.description ?? ''))} |`);
  }
  return lines.join('\n');
}

const schemaOf = (crd: { spec: { versions: { schema: { openAPIV3Schema: object } }[] } }) => crd.spec.versions[0]?.schema.openAPIV3Schema as unknown as Node;

/** The generated parts of docs/api.md by marker name. */
export function referenceParts(): Record<string, string> {
  return {
    'virtualmachine-fields': renderKind(schemaOf(virtualMachineCrd()), { split: true }),
    'virtualmachineclass-fields': renderKind(schemaOf(virtualMachineClassCrd()), { split: false, prefix: 'VirtualMachineClass ' }),
    'virtualmachineimage-fields': renderKind(schemaOf(virtualMachineImageCrd()), { split: true, prefix: 'VirtualMachineImage ' }),
    'operator-config': renderConfig(),
  };
}

/** The marker lines around a generated part. */
export function markers(name: string): { begin: string; end: string } {
  return {
    begin: `<!-- BEGIN GENERATED ${name}: npm run crds writes this from api/schema; do not edit by hand -->`,
    end: `<!-- END GENERATED ${name} -->`,
  };
}

/** Error: the doc lacks a part's markers. */
export class MissingMarkerError extends Error {
  override readonly name = 'MissingMarkerError';
}

/** `doc` with every generated part replaced by what the schemas give now. */
export function renderReference(doc: string, parts: Record<string, string> = referenceParts()): string {
  let out = doc;
  for (const [name, text] of Object.entries(parts)) {
    const { begin, end } = markers(name);
    const from = out.indexOf(begin);
    const to = out.indexOf(end);
    if (from < 0 || to < from) throw new MissingMarkerError(`docs/api.md has no ${begin} ... ${end} pair; add it where the ${name} reference belongs`);
    out = `${out.slice(0, from + begin.length)}\n\n${text}\n\n${out.slice(to)}`;
  }
  return out;
}
