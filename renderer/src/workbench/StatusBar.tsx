/**
 * The bar along the bottom of the workbench (issue #15; VS Code's and Teleport Connect's): which
 * gateway and whether it answers, who is signed in and as what, and how many terminals,
 * consoles and tunnels are live (fed through useReportActivity by whichever panel owns them).
 */
import { Cable, Circle, Database, Server, SquareTerminal, User } from 'lucide-react';
import type { AppState, DesktopApi } from '../../../main/ipc/contract.ts';
import { gatewayName, healthLabel } from './gatewayHealth.ts';
import { accountLine } from './roleName.ts';
import { useGatewayHealth } from './useGatewayHealth.ts';
import { useWorkbenchActivity } from './useWorkbenchActivity.ts';
import { countLabel } from './workbenchActivity.ts';
import './workbench.css';

const ICON = { size: 14, 'aria-hidden': true, strokeWidth: 2 } as const;

export function StatusBar({ api, state }: { api: DesktopApi; state: AppState }) {
  const health = useGatewayHealth(api, state.gateway);
  const activity = useWorkbenchActivity();
  const gateway = state.gateway;
  const account = state.account;
  return (
    <section className="status-bar" aria-label="Status bar">
      {gateway ? (
        <span
          className="status-item"
          data-health={health.kind}
          title={
            health.kind === 'unreachable'
              ? health.message
              : health.kind === 'changed'
                ? `${gateway.url} now presents another CA certificate than the one pinned; nothing is sent to it.`
                : `${gateway.url} — CA ${gateway.caFingerprint}`
          }
        >
          <Server {...ICON} />
          <span>{gatewayName(gateway)}</span>
          <Circle className="status-health-dot" size={8} aria-hidden="true" />
          <span className="status-health">{healthLabel(health)}</span>
        </span>
      ) : null}
      {account ? (
        <span className="status-item" title="Signed in">
          <User {...ICON} />
          <span>{accountLine(account)}</span>
        </span>
      ) : null}
      <span className="status-spacer" />
      <span className="status-item" data-count={activity.terminals}>
        <SquareTerminal {...ICON} />
        <span>{countLabel(activity.terminals, 'terminals')}</span>
      </span>
      <span className="status-item" data-count={activity.consoles}>
        <Database {...ICON} />
        <span>{countLabel(activity.consoles, 'consoles')}</span>
      </span>
      <span className="status-item" data-count={activity.tunnels}>
        <Cable {...ICON} />
        <span>{countLabel(activity.tunnels, 'tunnels')}</span>
      </span>
    </section>
  );
}
