/**
 * The resource list: search, kind and label filters, grant status with a ticking time left,
 * demo targets labelled, and "Open terminal" on SSH resources the user may use now. PostgreSQL
 * resources are listed; their query console comes in a later issue.
 */
import { RefreshCw } from 'lucide-react';
import { type Ref, useCallback, useEffect, useId, useMemo, useState } from 'react';
import type { AppState, DesktopApi, ResourceSummary } from '../../../main/ipc/contract.ts';
import { describeError } from '../components/describeError.ts';
import { ErrorAlert } from '../components/ErrorAlert.tsx';
import { useNow } from '../time/useNow.ts';
import {
  filterResources,
  type KindFilter,
  labelOptions,
  NO_FILTER,
  type ResourceFilter,
} from './filterResources.ts';
import { canOpenConsole, canOpenTerminal, grantStatus } from './grantStatus.ts';

/** Grants change on the gateway (approved, revoked): re-read the list this often. */
const REFRESH_MS = 60_000;

export function ResourcePanel({
  api,
  localGateway,
  searchRef,
  onOpenTerminal,
  onRequestAccess,
  onOpenTunnel,
  onDbConnection,
  refreshKey = 0,
}: {
  api: DesktopApi;
  localGateway: AppState['localGateway'];
  searchRef: Ref<HTMLInputElement>;
  onOpenTerminal(resource: ResourceSummary): void;
  /** "Request access" on resources whose grant needs approval (issue #14). */
  onRequestAccess?(resource: ResourceSummary): void;
  /** "Open tunnel" and "Copy connection" on PostgreSQL resources (issue #15). */
  onOpenTunnel?(resource: ResourceSummary): void;
  onDbConnection?(resource: ResourceSummary): void;
  /** Bumped when access changed (a request was approved): the list is read again. */
  refreshKey?: number;
}) {
  const [resources, setResources] = useState<ResourceSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [filter, setFilter] = useState<ResourceFilter>(NO_FILTER);
  const now = useNow(1000);
  const kindId = useId();
  const labelId = useId();

  const load = useCallback(() => {
    setLoading(true);
    api
      .call('resources.list', {})
      .then((result) => {
        setResources(result.resources);
        setError(null);
      })
      .catch((e: unknown) => setError(describeError(e)))
      .finally(() => setLoading(false));
  }, [api]);

  // Loaded again whenever the app state arrives anew, not only on the timer: the local
  // gateway's demo resources are created right after the first admin signs in, after the
  // sign-in itself was announced (and this panel first loaded).
  useEffect(() => {
    void localGateway;
    void refreshKey;
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => clearInterval(timer);
  }, [load, localGateway, refreshKey]);

  const visible = useMemo(() => filterResources(resources ?? [], filter), [resources, filter]);
  const labels = useMemo(() => labelOptions(resources ?? []), [resources]);
  const demoNames = new Set(localGateway.demoTargets.map((t) => t.name));
  const unavailableDemos = localGateway.demoTargets.filter((t) => !t.available);

  return (
    <section className="panel resources" aria-labelledby="resources-title">
      <div className="panel-head">
        <h2 id="resources-title">Resources</h2>
        <button
          type="button"
          className="button button-ghost button-small"
          onClick={load}
          disabled={loading}
          aria-label="Refresh resources"
          title="Refresh resources"
        >
          <RefreshCw size={15} aria-hidden="true" />
        </button>
      </div>
      <div className="filters">
        <input
          ref={searchRef}
          type="search"
          aria-label="Search resources"
          placeholder="Search resources (Ctrl+Shift+T)"
          value={filter.search}
          onChange={(e) => setFilter({ ...filter, search: e.target.value })}
          spellCheck={false}
        />
        <div className="filter-row">
          <label htmlFor={kindId} className="visually-hidden">
            Filter by kind
          </label>
          <select
            id={kindId}
            value={filter.kind}
            onChange={(e) => setFilter({ ...filter, kind: e.target.value as KindFilter })}
          >
            <option value="all">All kinds</option>
            <option value="ssh">SSH</option>
            <option value="postgres">PostgreSQL</option>
          </select>
          <label htmlFor={labelId} className="visually-hidden">
            Filter by label
          </label>
          <select
            id={labelId}
            value={filter.label}
            onChange={(e) => setFilter({ ...filter, label: e.target.value })}
            disabled={labels.length === 0}
          >
            <option value="">All labels</option>
            {labels.map((label) => (
              <option key={label} value={label}>
                {label}
              </option>
            ))}
          </select>
        </div>
      </div>
      <ErrorAlert message={error} />
      {unavailableDemos.map((demo) => (
        <p key={demo.name} className="alert alert-info small">
          Demo target {demo.name} is not available{demo.note ? `: ${demo.note}` : '.'}
        </p>
      ))}
      {resources === null && error === null ? (
        <p role="status" className="muted small">
          Loading resources…
        </p>
      ) : null}
      {resources !== null && visible.length === 0 ? (
        <p className="muted small empty">
          {resources.length === 0
            ? 'No resources yet. An administrator grants you access to servers and databases.'
            : 'No resource matches these filters.'}
        </p>
      ) : null}
      <ul className="resource-list" aria-label="Resource list">
        {visible.map((resource) => (
          <ResourceRow
            key={resource.id}
            resource={resource}
            now={now}
            isDemo={demoNames.has(resource.name)}
            onOpenTerminal={onOpenTerminal}
            onRequestAccess={onRequestAccess}
            onOpenTunnel={onOpenTunnel}
            onDbConnection={onDbConnection}
          />
        ))}
      </ul>
    </section>
  );
}

function ResourceRow({
  resource,
  now,
  isDemo,
  onOpenTerminal,
  onRequestAccess,
  onOpenTunnel,
  onDbConnection,
}: {
  resource: ResourceSummary;
  now: number;
  isDemo: boolean;
  onOpenTerminal(resource: ResourceSummary): void;
  onRequestAccess: ((resource: ResourceSummary) => void) | undefined;
  onOpenTunnel?: ((resource: ResourceSummary) => void) | undefined;
  onDbConnection?: ((resource: ResourceSummary) => void) | undefined;
}) {
  const status = grantStatus(resource, now);
  const labels = Object.entries(resource.labels);
  return (
    <li className="resource" aria-label={resource.name}>
      <div className="resource-title">
        <span className={`kind kind-${resource.kind}`}>
          {resource.kind === 'ssh' ? 'SSH' : 'PG'}
        </span>
        <span className="resource-name">{resource.name}</span>
        {isDemo ? <span className="badge badge-demo">Demo</span> : null}
      </div>
      {resource.description ? <p className="resource-desc">{resource.description}</p> : null}
      {labels.length > 0 ? (
        <ul className="labels" aria-label={`Labels of ${resource.name}`}>
          {labels.map(([key, value]) => (
            <li key={key} className="label-chip">
              {key}={value}
            </li>
          ))}
        </ul>
      ) : null}
      <div className="resource-foot">
        <span className={`grant grant-${status.tone}`}>
          {status.badge}
          {status.timeLeft !== null ? (
            <span className="time-left"> · {status.timeLeft}</span>
          ) : null}
        </span>
        {resource.access === 'requestable' && onRequestAccess ? (
          <button
            type="button"
            className="button button-small request-access"
            aria-label={`Request access to ${resource.name}`}
            onClick={() => onRequestAccess(resource)}
          >
            Request access
          </button>
        ) : resource.kind === 'ssh' ? (
          canOpenTerminal(resource, now) ? (
            <button
              type="button"
              className="button button-small button-primary"
              aria-label={`Open terminal on ${resource.name}`}
              onClick={() => onOpenTerminal(resource)}
            >
              Open terminal
            </button>
          ) : null
        ) : canOpenConsole(resource, now) ? (
          <button
            type="button"
            className="button button-small button-primary"
            aria-label={`Open console on ${resource.name}`}
            onClick={() => onOpenTerminal(resource)}
          >
            Open console
          </button>
        ) : null}
      </div>
      {resource.kind === 'postgres' && canUseNow(resource, now) ? (
        <div className="resource-foot resource-native-tools">
          {onOpenTunnel ? (
            <button
              type="button"
              className="button button-small"
              aria-label={`Open tunnel to ${resource.name}`}
              onClick={() => onOpenTunnel(resource)}
            >
              Open tunnel
            </button>
          ) : null}
          {onDbConnection ? (
            <button
              type="button"
              className="button button-small"
              aria-label={`Copy connection for DBeaver/pgAdmin to ${resource.name}`}
              title="A short-lived certificate for DBeaver, pgAdmin or psql, straight to the gateway"
              onClick={() => onDbConnection(resource)}
            >
              DBeaver / pgAdmin…
            </button>
          ) : null}
        </div>
      ) : null}
    </li>
  );
}

/** A PostgreSQL resource the gateway would open a session on now (tunnels, certificates). */
function canUseNow(resource: ResourceSummary, now: number): boolean {
  if (resource.access === 'requestable') return false;
  return resource.grantExpiresAt === null || Date.parse(resource.grantExpiresAt) > now;
}
