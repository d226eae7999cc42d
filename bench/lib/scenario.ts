import { cpus } from 'node:os';
import { loadAverages } from './cpu.js';
import { serverFacts } from './server.js';

/**
 * A scenario's start: the load averages and the server's settings it records, and a first line
 * saying what runs on what.
 */
export const announce = async (
  serverUrl: string,
  what: string,
): Promise<{ facts: Record<string, string>; loadAtStart: number[] }> => {
  const loadAtStart = loadAverages();
  const facts = await serverFacts(serverUrl);
  console.log(`PostgreSQL ${facts.server_version}, ${cpus().length} CPUs, load ${loadAtStart.join(' ')}; ${what}`);
  return { facts, loadAtStart };
};
