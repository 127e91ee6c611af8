/** The label every view of the embedded gateway carries (issue #5: "for evaluation"). */
export function LocalGatewayBadge() {
  return (
    <span
      className="badge badge-warn"
      title="History here is only as safe as this machine. Use a dedicated gateway for real work."
    >
      local gateway — for evaluation
    </span>
  );
}
