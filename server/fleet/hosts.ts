/**
 * The console's side of the host agents: enrolment tokens, enrolment, heartbeats with inventory
 * sync, and liveness. The HTTP routes the agents call are in agent-routes.ts; the calls the
 * console makes to agents are in agent-client.ts.
 */
import 'server-only';

export { AgentRefusedError } from './agent-refused';
export {
  createEnrolmentToken,
  DEFAULT_TOKEN_TTL_MS,
  enrolHost,
  revokeEnrolmentToken,
  type CreateEnrolmentTokenInput,
  type EnrolMeta,
  type EnrolmentToken,
} from './enrolment';
export { recordHeartbeat } from './heartbeat';
export { applyAgentInventory, hashInventory, syncInventory, type InventoryChanges } from './inventory-sync';
export { markSilentHosts, startLivenessMonitor } from './liveness';
