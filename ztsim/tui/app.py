"""The Textual application: loads the scenario in a worker, reloads, exports.

The app is thin: the core computes (in worker threads, so the screen never
freezes), :mod:`ztsim.tui.viewmodel` and :mod:`ztsim.tui.diffview` turn the
results into rows, and :class:`~ztsim.tui.screens.main.MainScreen` shows them.
Loads go through a :class:`~ztsim.tui.scenario.Session` (one
:class:`~ztsim.analysis.workspace.Workspace` per topology), so a reload re-parses and
re-judges only the files that changed.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.worker import get_current_worker

from ztsim.analysis.judged import Analysis
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.model.diagnostics import Diagnostic, InputError
from ztsim.model.textsafe import safe, safe_lines
from ztsim.output.outfile import OutputError
from ztsim.tui.commands import PaletteEntry, ZtsimCommands
from ztsim.tui.diffview import DiffView, build_diff, write_diff_export
from ztsim.tui.export import Format, write_export
from ztsim.tui.scenario import Reuse, Scenario, Session, display_path
from ztsim.tui.screens.help import HelpScreen
from ztsim.tui.screens.main import MainScreen
from ztsim.tui.screens.walk import WalkScreen
from ztsim.tui.viewmodel import PlanView, ViewModel, base_view, plan_views, with_plans
from ztsim.tui.widgets.diff import DiffPane

__all__ = ["ZtsimApp"]

#: Seconds between two partial updates of the matrix while plans are computed.
PUSH_EVERY = 0.5


class ZtsimApp(App[int]):
    """ztsim's terminal UI on one scenario (a topology and its policies).

    Parameters
    ----------
    scenario
        The files to judge.
    watch
        Poll the files' modification times and reload when one changes.
    k
        Plans listed per goal (as ``ztsim paths -k``).
    poll
        Seconds between two polls with ``watch`` (a few ``stat`` calls each): an edit
        shows after at most this plus one re-check.
    """

    # absolute, so subclasses defined elsewhere (tests, embedding) find it too
    CSS_PATH = Path(__file__).parent / "ztsim.tcss"
    TITLE = "ztsim"
    COMMANDS = App.COMMANDS | {ZtsimCommands}
    COMMAND_PALETTE_BINDING = "ctrl+p"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="quit", tooltip="Leave ztsim"),
        Binding(
            "question_mark",
            "help",
            "Help",
            key_display="?",
            id="help",
            tooltip="Keys, what the panes mean, the filter syntax",
        ),
        Binding("r", "reload", "Reload", id="reload", tooltip="Read the YAML files again"),
        Binding(
            "e",
            "export('md')",
            "Export",
            id="export.md",
            tooltip="Write the current view to ztsim-export-<view>.md",
        ),
        Binding(
            "E",
            "export('json')",
            "Export JSON",
            id="export.json",
            show=False,
            tooltip="Write the current view to ztsim-export-<view>.json",
        ),
        Binding(
            "w",
            "walk",
            "Walk",
            id="walk",
            show=False,
            tooltip="Walk through the selected plan step by step (for students)",
        ),
    ]

    def __init__(
        self, scenario: Scenario, *, watch: bool = False, k: int = 5, poll: float = 0.5
    ) -> None:
        super().__init__()
        self.scenario = scenario
        self.watching = watch
        self.plan_count = k
        self.poll = poll
        self.session = Session(scenario)
        self.vm: ViewModel | None = None
        self.errors: tuple[Diagnostic, ...] = ()
        #: What the last successful reload re-judged and what it reused.
        self.reuse: Reuse | None = None
        self.diff_view: DiffView | None = None
        self._generation = 0
        self._stamp = scenario.stamp()
        # the core inputs of the last good load (read-only), for the Diff tab's worker
        self._inputs: tuple[int, LoadedTopology, tuple[LoadedPolicy, ...]] | None = None
        self._diff_token: tuple[int, int, int] | None = None
        self._reuse_note = ""

    def get_default_screen(self) -> Screen[None]:
        """The main screen is the app's base screen."""
        return MainScreen()

    @property
    def main(self) -> MainScreen:
        """The main screen (whatever screen is on top)."""
        screen = self.screen_stack[0]
        assert isinstance(screen, MainScreen)
        return screen

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Notify as Textual does, but as plain text with user text escaped.

        Messages quote file names, names and errors from user files: never read as
        markup (``[bold]`` in a name shows as written; an unbalanced tag cannot
        fail), and their control characters are escaped (:mod:`ztsim.model.textsafe`).
        """
        super().notify(
            safe_lines(message), title=safe(title), severity=severity, timeout=timeout, markup=False
        )

    def format_title(self, title: str, sub_title: str) -> Content:
        """The header's title and subtitle (which names the topology), escaped."""
        return super().format_title(safe(title), safe(sub_title))

    def on_mount(self) -> None:
        """Start the first analysis, and the file watcher with ``--watch``."""
        self.sub_title = f"{self.scenario.topology} · loading…"
        # after the first refresh, every pane of the main screen is mounted
        self.call_after_refresh(self.action_reload)
        if self.watching:
            self.set_interval(self.poll, self._poll, name="watch")

    # ------------------------------------------------------------------ loading

    def _poll(self) -> None:
        if self.scenario.stamp() != self._stamp:
            self.action_reload()

    def action_reload(self) -> None:
        """Read the files again and recompute everything (in a worker)."""
        self._stamp = self.scenario.stamp()
        self._generation += 1
        if self.vm is not None:
            self.sub_title = self._subtitle(self.vm, "reloading…")
        self.analyse(self._generation)

    @work(thread=True, exclusive=True, group="analysis", exit_on_error=False)
    def analyse(self, generation: int) -> None:
        """Judge every policy (reusing the unchanged ones), then list the plans goal by goal.

        Runs in a worker thread; results reach the screen through ``call_from_thread``.
        """
        worker = get_current_worker()
        started = time.perf_counter()
        try:
            a, warnings, reuse = self.session.analyze()
        except InputError as exc:
            self.call_from_thread(self._failed, generation, exc)
            return
        except Exception as exc:  # a core bug: say so, keep the app and the last results
            self.call_from_thread(self._crashed, generation, exc)
            return
        try:
            vm = base_view(a, display_path(a.topology.path), warnings)
            if worker.is_cancelled:
                return
            took = time.perf_counter() - started
            self.call_from_thread(self._judged, generation, a, reuse, took)
            goals = a.goals
            self.call_from_thread(self._loaded, generation, vm, bool(goals))
            plans: list[PlanView] = []
            last = time.monotonic()
            for n, goal in enumerate(goals, 1):
                if worker.is_cancelled:
                    return
                plans.extend(plan_views(a, a.plans(goal, self.plan_count), start=len(plans)))
                if n == len(goals) or time.monotonic() - last >= PUSH_EVERY:
                    last = time.monotonic()
                    self.call_from_thread(
                        self._loaded, generation, with_plans(vm, plans, n), n < len(goals)
                    )
            if not goals:
                self.call_from_thread(self._loaded, generation, with_plans(vm, [], 0), False)
        except Exception as exc:  # a core bug: say so, keep the app and the last results
            if not worker.is_cancelled:
                self.call_from_thread(self._crashed, generation, exc)

    def _subtitle(self, vm: ViewModel, state: str = "") -> str:
        n = len(vm.policies)
        parts = [f"{vm.topology.name} ({vm.topology.path})", f"{n} polic{'y' if n == 1 else 'ies'}"]
        if state:
            parts.append(state)
        elif self._reuse_note:
            parts.append(self._reuse_note)
        return " · ".join(parts)

    def _judged(self, generation: int, a: Analysis, reuse: Reuse, took: float) -> None:
        """The policies are judged: keep the inputs for the diff, say what was reused.

        ``took`` is the re-check's time in seconds (reading, judging, the view),
        shown in the reload's notification only: the screen itself stays the same
        bytes for the same files.
        """
        if generation != self._generation:
            return
        self.reuse = reuse
        policies = tuple(r.policy for r in a.results)
        old = self._inputs
        # the workspace hands back the very same objects when nothing changed
        same = (
            old is not None
            and old[1] is a.topology
            and len(old[2]) == len(policies)
            and all(x is y for x, y in zip(old[2], policies, strict=True))
        )
        self._inputs = (generation, a.topology, policies)
        if self.vm is not None:  # a reload: say what the workspace spared
            self._reuse_note = reuse.describe()
            self.notify(f"{self._reuse_note} in {took:.2f} s", title="reload", timeout=3)
        if not same:
            self.main.diff_inputs(tuple(p.name for p in policies))

    def _loaded(self, generation: int, vm: ViewModel, computing: bool) -> None:
        if generation != self._generation:
            return
        first = self.vm is None or self.vm.topology is not vm.topology
        self.vm = vm
        self.errors = ()
        progress = f"plans: {vm.goals_done}/{vm.goals_total} goals…" if computing else ""
        self.sub_title = self._subtitle(vm, progress)
        self.main.clear_errors()
        self.main.show(vm, progress)
        for screen in self.screen_stack:
            if isinstance(screen, WalkScreen) and not screen.update_view(vm):
                self.notify("The plan walked is no longer listed.", severity="warning")
        if first and vm.warnings:
            self.notify(
                "\n".join(vm.warnings[:5]),
                title=f"{len(vm.warnings)} warning(s)",
                severity="warning",
                timeout=8,
            )

    def _failed(self, generation: int, exc: InputError) -> None:
        if generation != self._generation:
            return
        self.errors = tuple(exc.diagnostics)
        self.main.show_errors(exc.diagnostics)
        n = exc.error_count  # "... and N more" lines included
        if self.vm is not None:
            self.sub_title = self._subtitle(self.vm, f"{n} error(s) in input")
        else:
            self.sub_title = f"{self.scenario.topology} · {n} error(s) in input"

    def _crashed(self, generation: int, exc: Exception) -> None:
        if generation != self._generation:
            return
        self.notify(
            f"{type(exc).__name__}: {exc} (please report it)",
            title="internal error",
            severity="error",
            timeout=15,
        )

    # ------------------------------------------------------------------ the diff

    @on(DiffPane.Requested)
    def _diff_requested(self, event: DiffPane.Requested) -> None:
        if self._inputs is None:
            return
        generation, topo, policies = self._inputs
        if not (0 <= event.base < len(policies) and 0 <= event.proposed < len(policies)):
            return
        token = (generation, event.base, event.proposed)
        self._diff_token = token
        self.compute_diff(token, topo, policies[event.base], policies[event.proposed])

    @work(thread=True, exclusive=True, group="diff", exit_on_error=False)
    def compute_diff(
        self,
        token: tuple[int, int, int],
        topology: LoadedTopology,
        base: LoadedPolicy,
        proposed: LoadedPolicy,
    ) -> None:
        """Compare two policies of the last good load (worker thread)."""
        worker = get_current_worker()
        try:
            view = build_diff(topology, base, proposed, self.plan_count)
        except Exception as exc:  # a core bug: report it, keep the app
            self.call_from_thread(self._diff_failed, token, exc)
            return
        if not worker.is_cancelled:
            self.call_from_thread(self._diffed, token, view)

    def _diffed(self, token: tuple[int, int, int], view: DiffView) -> None:
        if token != self._diff_token:
            return
        self.diff_view = view
        self.main.show_diff(view)

    def _diff_failed(self, token: tuple[int, int, int], exc: Exception) -> None:
        if token != self._diff_token:
            return
        self.main.query_one(DiffPane).loading = False
        self._crashed(self._generation, exc)

    # ------------------------------------------------------------------ actions

    def action_help(self) -> None:
        """Show the help screen."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_walk(self, ident: str | None = None) -> None:
        """Walk through plan ``ident`` (the selected one) under the current policy."""
        main = self.main
        if self.vm is None or self.screen is not main or not self.vm.policies:
            return
        if ident is not None:
            main.jump_to_plan(ident)
        plan = self.vm.plan(ident or main.export_state().plan)
        if plan is None or plan.walk is None:
            self.notify("Select a plan in the Paths tab first.", severity="warning")
            return
        self.push_screen(WalkScreen(self.vm, plan, main.policy), self._walked)

    def _walked(self, policy: int | None) -> None:
        """Back from a walk-through: the main screen takes the policy walked last."""
        if policy is not None:
            self.main.choose_policy(policy)

    def action_export(self, fmt: Format) -> None:
        """Write the current view to ``ztsim-export-<view>.<fmt>`` in the cwd.

        Never over a file of the scenario; a refused or failed write is notified.
        """
        inputs = self.scenario.files()
        try:
            if self.main.view == "diff":
                if self.diff_view is None:
                    self.notify("No diff to export yet.", severity="warning")
                    return
                path = write_diff_export(self.diff_view, fmt, inputs=inputs)
                self.notify(f"Exported the diff to {display_path(path)}", title="export")
                return
            if self.vm is None:
                self.notify("Nothing to export yet.", severity="warning")
                return
            state = self.main.export_state()
            path = write_export(self.vm, state, fmt, inputs=inputs)
        except InputError as exc:
            msg = "; ".join(d.message for d in exc.diagnostics)
            self.notify(f"Not exported: {msg}", title="export", severity="error")
            return
        except OutputError as exc:
            self.notify(f"Not exported: {exc}", title="export", severity="error")
            return
        self.notify(f"Exported the {state.view} view to {display_path(path)}", title="export")

    def palette_entries(self) -> list[PaletteEntry]:
        """Command palette entries: actions, then policies, plans and hosts."""
        main = self.main
        out = [
            PaletteEntry("Export the current view as Markdown", "e", self._export_md, True),
            PaletteEntry("Export the current view as JSON", "E", self._export_json, True),
            PaletteEntry("Reload the files", "r", self.action_reload, True),
            PaletteEntry(
                "Walk through the selected plan",
                "w: step by step, with tactics, mitigations and what stops each step",
                self.action_walk,
                True,
            ),
            PaletteEntry(
                "Diff base vs proposed",
                "4: what a proposed policy opens and closes against a base",
                partial(main.action_tab, "diff"),
                True,
            ),
            PaletteEntry("Help: keys and legend", "?", self.action_help, True),
        ]
        vm = self.vm
        if vm is None:
            return out
        for i, p in enumerate(vm.policies):
            out.append(
                PaletteEntry(
                    f"Policy: {p.name}",
                    f"{p.path}: {p.goals_reachable}/{p.goals} goals reachable",
                    partial(main.choose_policy, i),
                    True,
                )
            )
        for plan in vm.plans:
            out.append(
                PaletteEntry(
                    f"Plan: {plan.ident} {plan.goal} from {plan.entry}",
                    f"cost {plan.cost}: {plan.chain}",
                    partial(main.jump_to_plan, plan.ident),
                )
            )
            out.append(
                PaletteEntry(
                    f"Walk: {plan.ident} {plan.goal} from {plan.entry}",
                    f"step by step: {plan.chain}",
                    partial(self.action_walk, plan.ident),
                )
            )
        for z in vm.topology.zones:
            for h in z.hosts:
                out.append(
                    PaletteEntry(
                        f"Host: {h}",
                        f"zone {z.id}",
                        partial(main.jump_to_host, h),
                    )
                )
        return out

    def _export_md(self) -> None:
        self.action_export("md")

    def _export_json(self) -> None:
        self.action_export("json")
