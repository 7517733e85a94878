"""Draw the prompts of a batch: a generation mode per prompt, and parents from the reference pool.

    from nngpt_core.llm.planner import Planner
    planner = Planner(pool, families, modes={"crossover": 0.8, "mutation": 0.2}, trained_pairs=corpus.trained_pairs)
    plans = planner.draw(n=8, seed=123, fits=lambda plan: tokens(plan) <= budget)

Crossover draws a network parent and a donor whose (network family, block family) combination the
model was never trained on, can be combined by the operator's arity rule, and is no same-family
pair; families that combined well while the training corpus was made are drawn more often (the
corpus's pair outcomes, Laplace-smoothed). Mutation draws a parent with knobs and one to three
named changes of them. With `answer_can_be_novel` (the store's novelty check), a crossover or
mutation is asked for only when its operator answer (the plan's `answer`: what the model was
trained to write for such a prompt) would be novel: a request whose right answer is a near
duplicate of the store can only give a duplicate (after DRAWS tries without one, a fitting
request is made anyway and counted in `without_novel_answer`). The model's actual answer is judged
as every candidate is. Delta asks for a crossover (else a mutation) as a diff, or with
`delta_request="improve"` (the delta paper) for an improvement of a parent shown with its recorded
accuracy. Full draws `references_per_prompt` references. Prompt i depends only on (seed, i), not on
batching.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence

from nngpt_core.corpus.expander import possible_edits
from nngpt_core.errors import NngptError
from nngpt_core.llm.modes import Plan, as_delta, crossover_plan, full_plan, improve_plan, mutation_plan
from nngpt_core.llm.prompts import Reference

Families = tuple[str, str]  # (family of the network, family of the main block)
DRAWS = 40  # attempts to find a fitting plan for one prompt


class Planner:
    def __init__(self, pool: Sequence[Reference], families: Mapping[int | str, Families], modes: Mapping[str, float],
                 trained_pairs: Sequence[tuple[str, str]] = (), pair_outcomes: Mapping[tuple[str, str], Sequence[int]] | None = None,
                 references_per_prompt: int = 1, delta_request: str = "crossover",
                 accuracies: Mapping[int, float] | None = None, dataset: str = "",
                 answer_can_be_novel: Callable[[str], bool] | None = None):
        if not pool:
            raise NngptError("no reference architectures to draw parents from")
        self.pool = list(pool)
        self.families = families
        self.modes = {mode: weight for mode, weight in modes.items() if weight > 0}
        self.trained = set(map(tuple, trained_pairs))
        self.references_per_prompt = references_per_prompt
        self.delta_request, self.accuracies, self.dataset = delta_request, accuracies or {}, dataset
        self.network_prior, self.donor_prior = _family_priors(pair_outcomes or {})
        self.answer_can_be_novel = answer_can_be_novel
        self.without_novel_answer = 0  # prompts drawn although no request with a novel answer was found

    def family(self, ref: Reference) -> Families:
        key = ref.architecture_id if ref.architecture_id is not None else ref.name
        return self.families.get(key, (ref.name, ref.name))

    def _crossover(self, rng: random.Random, pool: list[Reference]) -> Plan | None:
        network = _weighted(rng, pool, [self.network_prior.get(self.family(r)[0], 0.5) for r in pool])
        net_family, own_block = self.family(network)
        donors = [r for r in pool if r is not network and self.family(r)[1] not in (net_family, own_block)
                  and (net_family, self.family(r)[1]) not in self.trained]
        if not donors:
            return None
        donor = _weighted(rng, donors, [self.donor_prior.get(self.family(r)[1], 0.5) for r in donors])
        return crossover_plan(network, donor)

    def _mutation(self, rng: random.Random, pool: list[Reference]) -> Plan | None:
        parent = rng.choice(pool)
        options = possible_edits(parent.code) if "class Net" in parent.code else []
        if not options:
            return None
        count = rng.choice((1, 2, 3))
        chosen: dict[str, object] = {}
        for edit in rng.sample(options, len(options)):
            chosen.setdefault(edit.knob, edit)
            if len(chosen) == count:
                break
        order = [edit.knob for edit in options]
        return mutation_plan(parent, sorted(chosen.values(), key=lambda edit: order.index(edit.knob)))

    def _worth_asking(self, plan: Plan) -> bool:
        """False when the plan's operator answer is known and would not be novel (a wasted request)."""
        return plan.answer is None or self.answer_can_be_novel is None or self.answer_can_be_novel(plan.answer)

    def _plan(self, mode: str, rng: random.Random, pool: list[Reference]) -> Plan | None:
        if mode == "crossover":
            return self._crossover(rng, pool)
        if mode == "mutation":
            return self._mutation(rng, pool)
        if mode == "delta" and self.delta_request == "improve":
            parent = rng.choice(pool)
            return improve_plan(parent, self.accuracies.get(parent.architecture_id), self.dataset)
        if mode == "delta":
            plan = self._crossover(rng, pool) or self._mutation(rng, pool)
            return as_delta(plan) if plan else None
        return full_plan(rng.sample(pool, min(self.references_per_prompt, len(pool))))

    def draw(self, n: int, seed: int, fits: Callable[[Plan], bool] = lambda plan: True) -> list[Plan]:
        """`n` plans that `fits` accepts; raises NngptError when no fitting plan of a mode can be found.

        Parents too long to fit even alone are left out of the pool first (every mode shows its first
        parent whole)."""
        modes, weights = list(self.modes), list(self.modes.values())
        pool = [ref for ref in self.pool if fits(full_plan([ref]))]
        if not pool:
            raise NngptError(f"none of the {len(self.pool)} reference architectures fits the model's context; "
                             "lower generation.max_new_tokens")
        plans = []
        for i in range(n):
            rng = random.Random(f"{seed}:{i}")
            mode = rng.choices(modes, weights)[0]
            fitting = None
            for _ in range(DRAWS):
                plan = self._plan(mode, rng, pool)
                if plan is None or not fits(plan):
                    continue
                if self._worth_asking(plan):
                    break
                fitting = fitting or plan
            else:
                if fitting is None:
                    raise NngptError(f"no {mode} prompt could be drawn from the {len(pool)} reference architectures "
                                     "that fits the model's context (lower generation.max_new_tokens or change generation.modes)")
                plan = fitting  # no request with a novel answer was found: ask anyway, the answer is judged as always
                self.without_novel_answer += 1
            plans.append(plan)
        return plans


def _weighted(rng: random.Random, items: Sequence, weights: Sequence[float]):
    return rng.choices(items, weights)[0] if sum(weights) > 0 else rng.choice(items)


def _family_priors(outcomes: Mapping[tuple[str, str], Sequence[int]]) -> tuple[dict[str, float], dict[str, float]]:
    """Per family, the smoothed share of its training hybrids that passed, as network and as donor."""
    tallies: tuple[dict[str, list[int]], dict[str, list[int]]] = ({}, {})
    for (network, donor), (probed, passed) in outcomes.items():
        for side, family in ((0, network), (1, donor)):
            tally = tallies[side].setdefault(family, [0, 0])
            tally[0] += probed
            tally[1] += passed
    return tuple({family: (passed + 1) / (probed + 2) for family, (probed, passed) in side.items()} for side in tallies)
