"""The compiler's selection by index, and the reader's parse without positions.

``Cluster`` picks pods and namespaces through label indexes (sets intersected,
not every pod tested): a property test holds it to ``LabelSelector.matches`` pod
by pod.  The reader parses the kinds of ``stream.SHALLOW_KINDS`` without
positions: every place it reports is the one the recorded positions give.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ztsim.inputs.k8s import read_manifests
from ztsim.inputs.k8s import stream as k8s_stream
from ztsim.inputs.k8s.compile_select import Cluster
from ztsim.inputs.k8s.drafts import TopologyDraft
from ztsim.inputs.k8s.naming import host_id
from ztsim.inputs.k8s.objects import (
    NAMESPACE_LABEL,
    ContainerPort,
    LabelSelector,
    Manifests,
    Namespace,
    Requirement,
    Source,
    Workload,
)
from ztsim.model.diagnostics import InputError

ROOT = Path(__file__).resolve().parents[1]
CASES_DIR = ROOT / "tests" / "k8s" / "netpol_analyzer"

_KEYS = st.sampled_from(["app", "tier", "team", NAMESPACE_LABEL])
_VALUES = st.sampled_from(["a", "b", "c"])
_LABELS = st.dictionaries(_KEYS, _VALUES, max_size=3)
_OPERATORS = st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"])


@st.composite
def _requirements(draw: st.DrawFn) -> Requirement:
    op = draw(_OPERATORS)
    values = draw(st.lists(_VALUES, min_size=1, max_size=3)) if op in ("In", "NotIn") else []
    return Requirement(draw(_KEYS), op, tuple(values))


@st.composite
def _selectors(draw: st.DrawFn) -> LabelSelector | None:
    if draw(st.booleans()) and draw(st.booleans()):
        return None
    labels = tuple(sorted(draw(st.dictionaries(_KEYS, _VALUES, max_size=2)).items()))
    return LabelSelector(labels, tuple(draw(st.lists(_requirements(), max_size=3))))


def _cluster(
    pods: list[tuple[int, dict[str, str]]], ns_labels: list[dict[str, str]]
) -> tuple[Cluster, list[Workload]]:
    """A cluster of ``pods`` (namespace index, labels) in namespaces ``ns0``... as
    ``Cluster.of`` builds it (every namespace a zone of its own name)."""
    names = [f"ns{i}" for i in range(len(ns_labels))]
    where = Source("m.yaml", 1, 1)
    workloads = [
        Workload(names[n % len(names)], f"p{i}", "Pod", tuple(sorted(labels.items())),
                 (ContainerPort(80, "TCP"),), (), (where,))
        for i, (n, labels) in enumerate(pods)
    ]  # fmt: skip
    namespaces = tuple(
        Namespace(ns, tuple(sorted({**labels, NAMESPACE_LABEL: ns}.items())), where)
        for ns, labels in zip(names, ns_labels, strict=True)
    )
    m = Manifests(
        files=("m.yaml",), namespaces=namespaces, workloads=tuple(workloads), services=(),
        ingresses=(), network_policies=(), admin_policies=(), baseline_policies=(),
        cilium_policies=(), notes=(),
    )  # fmt: skip
    hosts = [{"id": host_id(w), "zone": w.namespace} for w in workloads]
    zones = [{"id": ns} for ns in names]
    return Cluster.of(m, TopologyDraft({"zones": zones, "hosts": hosts})), workloads


@settings(max_examples=150, deadline=None)
@given(
    pods=st.lists(st.tuples(st.integers(0, 3), _LABELS), max_size=25),
    ns_labels=st.lists(_LABELS, min_size=1, max_size=4),
    ns_selector=_selectors(),
    pod_selector=_selectors(),
)
def test_selection_by_index_is_matching_pod_by_pod(
    pods: list[tuple[int, dict[str, str]]],
    ns_labels: list[dict[str, str]],
    ns_selector: LabelSelector | None,
    pod_selector: LabelSelector | None,
) -> None:
    cluster, workloads = _cluster(pods, ns_labels)
    namespaces = cluster.namespaces(ns_selector)
    expected_ns = sorted(
        f"ns{i}"
        for i, labels in enumerate(ns_labels)
        # Only namespaces holding a pod are zones with hosts.
        if any(n % len(ns_labels) == i for n, _ in pods)
        and (ns_selector is None or ns_selector.matches({**labels, NAMESPACE_LABEL: f"ns{i}"}))
    )
    assert namespaces == expected_ns
    picked = cluster.pods_in(namespaces, pod_selector).hosts
    expected = {
        host_id(w)
        for w in workloads
        if w.namespace in expected_ns
        and (pod_selector is None or pod_selector.matches(dict(w.labels)))
    }
    assert picked == expected
    # Asked again (memoised), the same answer, and the memo is not handed out to change.
    cluster.namespaces(ns_selector).append("changed")
    assert cluster.namespaces(ns_selector) == expected_ns


def _places(m: Manifests) -> list[object]:
    return [
        *((w.id, w.sources) for w in m.workloads),
        *((n.name, n.source) for n in m.namespaces),
        *((s.name, s.source) for s in m.services),
        *((i.name, i.source) for i in m.ingresses),
        *((p.name, p.source, [r.source for r in (*p.ingress, *p.egress)])
          for p in m.network_policies),
        *m.notes,
    ]  # fmt: skip


@pytest.mark.parametrize(
    "paths",
    [
        [ROOT / "examples" / "k8s" / "workloads", ROOT / "examples" / "k8s" / "policies"],
        *([p] for p in sorted(CASES_DIR.iterdir()) if p.is_dir()),
    ],
    ids=lambda paths: paths[-1].name,
)
def test_shallow_kinds_placed_as_with_positions(
    paths: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    shallow = read_manifests(paths)
    monkeypatch.setattr(k8s_stream, "SHALLOW_KINDS", frozenset())
    recorded = read_manifests(paths)
    assert _places(shallow) == _places(recorded)


def test_a_wrong_guess_of_the_kind_is_parsed_again(tmp_path: Path) -> None:
    # The first ``kind:`` line at column 0 is inside a quoted scalar: the guess
    # (Pod) is wrong, and the NetworkPolicy's rules still have their places.
    path = tmp_path / "np.yaml"
    path.write_text(
        "kind: Namespace\nmetadata: {name: x}\n---\n"
        'note: "a\nkind: Pod"\nkind: NetworkPolicy\nmetadata: {name: n, namespace: x}\n'
        "spec:\n  podSelector: {}\n  ingress:\n  - from: [{podSelector: {}}]\n"
    )
    (policy,) = read_manifests([path]).network_policies
    assert (policy.source.line, policy.ingress[0].source.line) == (4, 11)


def test_a_problem_deep_in_a_shallow_kind_is_placed(tmp_path: Path) -> None:
    path = tmp_path / "pods.yaml"
    path.write_text(
        "kind: Pod\nmetadata: {name: a}\n---\nkind: Pod\nmetadata: {name: b}\nspec:\n"
        "  containers:\n  - name: c\n    ports:\n    - {containerPort: 99999}\n"
    )
    with pytest.raises(InputError) as info:
        read_manifests([path])
    (found,) = info.value.diagnostics
    assert (found.line, found.column) == (10, 23)
    assert "between 1 and 65535" in found.message
