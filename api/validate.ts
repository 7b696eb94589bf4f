/**
 * One validation for every entry point (CLI, webhook, tests): the zod schema first, then the
 * semantic rules. Pure: classes are passed in, never fetched.
 */
import type { z } from 'zod';
import { jsonBytes, MAX_NESTING_DEPTH, MAX_SPEC_BYTES, tooDeepAt } from './depth.js';
import { fromZod, type ValidationIssue } from './issues.js';
import { classRules } from './rules/class.js';
import { computeRules } from './rules/compute.js';
import type { Rule, RuleContext } from './rules/context.js';
import { diskRules } from './rules/disks.js';
import { imageRules } from './rules/image.js';
import { miscRules } from './rules/misc.js';
import { schedulingRules } from './rules/scheduling.js';
import { virtualMachineClass, type VirtualMachineClass } from './schema/class.js';
import { virtualMachineImage, type VirtualMachineImage } from './schema/image.js';
import { virtualMachine, type VirtualMachine } from './schema/vm.js';

/** The rules applied to every VirtualMachine that passed the schema, in reporting order. */
export const VM_RULES: readonly Rule[] = [...diskRules, ...computeRules, ...schedulingRules, ...miscRules];

/** A parsed object, or the issues that kept it from parsing. */
export interface Validated<T> {
  value?: T;
  issues: ValidationIssue[];
}

/** How classes named by VMs are looked up. */
export interface ClassLookup {
  classes: ReadonlyMap<string, VirtualMachineClass>;
  /** True when `classes` holds every class that exists (the webhook); false offline (the CLI). */
  complete: boolean;
}

const NO_CLASSES: ClassLookup = { classes: new Map(), complete: false };

/** "VirtualMachine team-a/web-1", read defensively from any input. */
export function objectLabel(raw: unknown): string {
  const obj = (raw ?? {}) as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  const kind = typeof obj.kind === 'string' ? obj.kind : 'object';
  const name = typeof obj.metadata?.name === 'string' ? obj.metadata.name : '(unnamed)';
  const ns = typeof obj.metadata?.namespace === 'string' ? `${obj.metadata.namespace}/` : '';
  return `${kind} ${ns}${name}`;
}

/** Refuses input nested too deep or too large before anything walks it recursively. */
function shapeIssues(raw: unknown): ValidationIssue[] {
  const object = objectLabel(raw);
  const deep = tooDeepAt(raw);
  if (deep !== undefined) return [{ object, path: deep, message: `is nested more than ${MAX_NESTING_DEPTH} levels deep; no kubevmm field nests that deep` }];
  const spec = (raw as { spec?: unknown } | null)?.spec;
  const bytes = jsonBytes(spec);
  if (bytes > MAX_SPEC_BYTES) {
    return [{ object, path: 'spec', message: `is ${bytes} bytes as JSON; at most ${MAX_SPEC_BYTES} fit in the launcher pod's annotation: move cloud-init data to a Secret (userDataSecretRef)` }];
  }
  return [];
}

function parseWith<T>(schema: z.ZodType<T>, raw: unknown): Validated<T> {
  const shape = shapeIssues(raw);
  if (shape.length) return { issues: shape };
  const result = schema.safeParse(raw, { reportInput: true });
  if (result.success) return { value: result.data, issues: [] };
  return { issues: fromZod(result.error, schema, objectLabel(raw)) };
}

/** Validates a VirtualMachine against the schema, the semantic rules and its class. */
export function validateVm(raw: unknown, lookup: ClassLookup = NO_CLASSES): Validated<VirtualMachine> {
  const parsed = parseWith(virtualMachine, raw);
  if (!parsed.value) return parsed;
  const spec = parsed.value.spec;
  const classSpec = spec.className ? lookup.classes.get(spec.className)?.spec : undefined;
  const ctx: RuleContext = { spec, classSpec, classKnown: !spec.className || classSpec !== undefined };
  const findings = VM_RULES.flatMap((rule) => rule(ctx));
  if (spec.className && !classSpec && lookup.complete) {
    findings.unshift({ path: 'spec.className', message: `VirtualMachineClass "${spec.className}" does not exist; create it or name an existing class` });
  }
  const object = objectLabel(raw);
  const issues = findings.map((f) => ({ object, ...f }));
  return issues.length ? { issues } : parsed;
}

/** Validates a VirtualMachineClass: the schema, then the class rules. */
export function validateClass(raw: unknown): Validated<VirtualMachineClass> {
  const parsed = parseWith(virtualMachineClass, raw);
  if (!parsed.value) return parsed;
  const object = objectLabel(raw);
  const issues = classRules(parsed.value.spec).map((f) => ({ object, ...f }));
  return issues.length ? { issues } : parsed;
}

/** Validates a VirtualMachineImage: the schema, then the image rules (the webhook adds the cluster's checks). */
export function validateImage(raw: unknown): Validated<VirtualMachineImage> {
  const parsed = parseWith(virtualMachineImage, raw);
  if (!parsed.value) return parsed;
  const object = objectLabel(raw);
  const issues = imageRules(parsed.value).map((f) => ({ object, ...f }));
  return issues.length ? { issues } : parsed;
}

/** The kinds `validateDocuments` knows. */
export const KUBEVMM_KINDS = ['VirtualMachine', 'VirtualMachineClass', 'VirtualMachineImage'] as const;

/** The outcome for one input document. */
export interface DocumentResult {
  object: string;
  issues: ValidationIssue[];
  value?: VirtualMachine | VirtualMachineClass | VirtualMachineImage;
  /** Set when a VM names a class that is not among the documents (offline checks skip its limits). */
  warning?: string;
}

/**
 * Validates a set of documents together: classes in the set are used by the VMs that name them.
 * Anything that is not a kubevmm kind is an issue, so a stray manifest is not silently ignored.
 */
export function validateDocuments(docs: readonly unknown[]): DocumentResult[] {
  const classes = new Map<string, VirtualMachineClass>();
  for (const doc of docs) {
    const cls = validateClass(doc).value;
    if (cls) classes.set(cls.metadata.name, cls);
  }
  return docs.map((doc) => validateDocument(doc, { classes, complete: false }));
}

function validateDocument(doc: unknown, lookup: ClassLookup): DocumentResult {
  const object = objectLabel(doc);
  const kind = (doc as { kind?: unknown } | null)?.kind;
  if (kind === 'VirtualMachineClass') return { object, ...validateClass(doc) };
  if (kind === 'VirtualMachineImage') return { object, ...validateImage(doc) };
  if (kind !== 'VirtualMachine') {
    return { object, issues: [{ object, path: 'kind', message: `must be one of ${KUBEVMM_KINDS.join(', ')} (apiVersion kubevmm.io/v1alpha1)` }] };
  }
  const result: DocumentResult = { object, ...validateVm(doc, lookup) };
  const className = (result.value as VirtualMachine | undefined)?.spec.className;
  if (className && !lookup.classes.has(className)) {
    result.warning = `${object}: class "${className}" is not in the input; its defaults and limits were not checked`;
  }
  return result;
}
