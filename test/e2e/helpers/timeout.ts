// Per-project testTimeout is not applied by jest; an end-to-end test boots VMs under TCG.
import { jest } from '@jest/globals';

jest.setTimeout(600_000);
