/** What every semantic rule sees, and what it returns. */
import type { ClassSpec } from '../schema/class.js';
import type { VmSpec } from '../schema/vm.js';

/** The input of a rule: a schema-valid VM spec and, when known, the class it names. */
export interface RuleContext {
  spec: VmSpec;
  /** The named class's spec; undefined when the VM names none or the class is not known here. */
  classSpec?: ClassSpec;
  /** False when the VM names a class that this validation could not look up (offline CLI). */
  classKnown: boolean;
}

/** A rule's finding: a path below the object and the message. */
export interface Finding {
  path: string;
  message: string;
}

/** A semantic check the schema alone cannot express. Pure. */
export type Rule = (ctx: RuleContext) => Finding[];
