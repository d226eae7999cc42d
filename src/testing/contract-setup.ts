import { afterEach } from 'vitest';
import { takeContractMismatches } from './response-contract.js';

// A response that breaks the OpenAPI document fails the test that provoked it.
afterEach(() => {
  const found = takeContractMismatches();
  if (found.length > 0) {
    throw new Error(`responses that break the OpenAPI document:\n${[...new Set(found)].join('\n')}`);
  }
});
