#!/usr/bin/env python3
"""The l5sim benchmark circuit "sheet" (configs/sheet.yaml, MODEL.md section 12) in Brian2.

Same cells, synapses, rules, dt and thread count as l5sim's CPU engine, so that the two can be
timed on the same network: PYR (Izhikevich soma + calcium dendrite, stochastic BAP / plateau
coupling, adaptation), PV and SOM (Izhikevich somata), conductance synapses AMPA/NMDA/GABA_A
with the Mg gate and the soma NMDA cap, per-cell Poisson background, a 2-D unit torus with
sparse Gaussian fixed in-degree connectivity and distance-dependent delays, and all-to-all pair
STDP on PYR -> PYR. Brian2 C++ standalone mode (g++ and OpenMP), dt = 0.1 ms.

Usage:
  python3 bench/brian2_sheet.py --cells 1000 [--k 100] [--duration-ms 1000] [--threads 2]
                                [--seed 1] [--workdir DIR] [--json OUT.json]

Cells are split 80/10/10 like l5sim's bench (PYR = 8 N / 10, PV = N / 10, SOM = the rest);
in-degrees 0.8 K / 0.1 K / 0.1 K into PYR (from PYR / PV / SOM) and K into PV and SOM (from
PYR), as in configs/sheet.yaml (K = 100 there). The differences from l5sim's semantics are
listed in bench/brian2_sheet_notes.md.

Reported (stdout line and --json): Python network construction time (connectivity draw),
Brian2 object set-up time, code generation, compilation, the binary's run time, and the
simulation loop time (Brian2's own measurement of the step loop, without compilation and
initialisation: the number to compare with l5sim's timing.wall_s); spikes and rates per
population, synapses, synaptic events (spikes x out-degree summed).
"""

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time

try:
    import numpy as np
except ImportError:  # pragma: no cover
    sys.exit("brian2_sheet.py: numpy is missing; install with: "
             "python3 -m pip install brian2 'numpy<2.4'")

try:
    import brian2 as b2
except ImportError:
    sys.exit("brian2_sheet.py: brian2 is missing; install it with\n"
             "    python3 -m pip install brian2 'numpy<2.4'\n"
             "(numpy 2.4 breaks brian2 2.9).")

# ------------------------------------------------------------------------------------------
# Parameters: configs/sheet.yaml as resolved by l5sim (config.resolved.yaml), units mV, ms, pF,
# pA, nS (Brian2 variables are kept dimensionless in these units, as in l5sim).
# ------------------------------------------------------------------------------------------
DT_MS = 0.1
SYN = dict(tau_ampa=6.0, tau_nmda=100.0, tau_gaba=6.0, E_ampa=0.0, E_nmda=0.0, E_gaba=-75.0,
           nmda_cap=85.0)
SOMA = {
    "PYR": dict(C=150.0, k=2.5, v_r=-75.0, v_t=-45.0, v_peak=50.0, a=0.01, b=5.0,
                c=-65.0, d=250.0, c_burst=-55.0, d_burst=150.0),
    "PV": dict(C=20.0, k=1.0, v_r=-55.0, v_t=-40.0, v_peak=25.0, a=0.15, b=8.0,
               c=-55.0, d=200.0),
    "SOM": dict(C=100.0, k=1.0, v_r=-56.0, v_t=-42.0, v_peak=40.0, a=0.03, b=8.0,
                c=-53.0, d=20.0),
}
DEND = dict(C=170.0, g_L=170.0 / 7.0, E_L=-70.0, g_Ca=1200.0, E_half=-38.0, D=6.0,
            a=1.0 / 30.0, b=-13.0, p_bap=2600.0, theta_ca=-30.0, bap_first=5, bap_last=25)
GAMMA = 0.5                                   # coupling: stochastic, gamma 0.5
ADAPT = dict(inc=0.065, tau=2000.0, E=-80.0)  # PYR adaptation conductance
BACKGROUND = {  # rate_hz, weight (nS per input spike, into AMPA and NMDA)
    ("PYR", "soma"): (700.0, 1.0),
    ("PYR", "dendrite"): (500.0, 1.0),
    ("PV", "soma"): (600.0, 0.02),
    ("SOM", "soma"): (600.0, 0.02),
}
# name: source, target, compartment, receptor factors, A, sigma, share of K,
#       dense_equivalent_sources, dense_equivalent_sigma
PROJECTIONS = [
    ("PYR_PYR", "PYR", "PYR", "soma", dict(ampa=1.75, nmda=0.35), 3.5, 0.05, 0.8, 50, 0.5),
    ("PYR_PV", "PYR", "PV", "soma", dict(ampa=1.0, nmda=1.0), 1.0, 0.1, 1.0, 200, 2.0),
    ("PYR_SOM", "PYR", "SOM", "soma", dict(ampa=1.0, nmda=1.0), 1.0, 0.1, 1.0, 200, 2.0),
    ("PV_PYR", "PV", "PYR", "soma", dict(gaba=1.0), 5.0, 0.1, 0.1, 50, 2.0),
    ("SOM_PYR", "SOM", "PYR", "dendrite", dict(gaba=1.0), 5.0, 0.1, 0.1, 50, 2.0),
]
DELAY_MIN_MS = 1.0
SPEED_PER_MS = 0.08
DELAY_MAX_STEPS = 255
STDP = dict(tau_plus=20.0, tau_minus=20.0, A_plus=0.005, A_minus_ratio=1.05, w_max_factor=2.0,
            eta=1.0)


def lit(x):
    """A float as a C++/Brian2 literal with full precision."""
    return repr(float(x))


# ------------------------------------------------------------------------------------------
# Connectivity (host/network/network.cpp, include/l5sim/model/connectivity.hpp), in numpy.
# ------------------------------------------------------------------------------------------
def grid_side(n):
    s = math.isqrt(n)
    while s * s < n:
        s += 1
    return s


def grid_positions(n):
    side = grid_side(n)
    idx = np.arange(n)
    return (idx % side + 0.5) / side, (idx // side + 0.5) / side


def wrap01(x):
    x = x - np.floor(x)
    x[x >= 1.0] -= 1.0
    return x


def torus_delta(a, b):
    d = a - b
    d = np.where(d > 0.5, d - 1.0, d)
    return np.where(d < -0.5, d + 1.0, d)


def ring_distance(i, n_i, j, n_j):
    a = 2 * math.pi * (i / n_i)
    b = 2 * math.pi * (j / n_j)
    return 2 * abs(math.sin((a - b) / 2))


def dense_ring_total(A, sigma, n, exclude_self):
    total = 0.0
    for j in range(1 if exclude_self else 0, n):
        d = ring_distance(0, n, j, n)
        total += A * math.exp(-d * d / (2 * sigma * sigma)) / (sigma * math.sqrt(2 * math.pi))
    return total


def sparse_weight(A, dense_sources, dense_sigma, K, same_population):
    """l5sim's sparse weight: total input on the dense reference ring / K (float32)."""
    return float(np.float32(dense_ring_total(A, dense_sigma, dense_sources, same_population) / K))


def draw_sheet(n_src, n_tgt, K, sigma, same_population, rng, chunk=1 << 22):
    """Every target draws K sources: a Gaussian displacement (sigma, torus units) from the
    target's grid position, snapped to the source grid square holding that point, redrawn on an
    empty square or an autapse (l5sim: sheet_source_at). Returns source, target (int32) and
    delay in steps (uint16) in target-major order."""
    side_s = grid_side(n_src)
    xs, ys = grid_positions(n_src)
    xt, yt = grid_positions(n_tgt)
    d_min = int(round(DELAY_MIN_MS / DT_MS))
    steps_per_unit = 1.0 / (SPEED_PER_MS * DT_MS)
    M = n_tgt * K
    src = np.empty(M, dtype=np.int32)
    tgt = np.empty(M, dtype=np.int32)
    delay = np.empty(M, dtype=np.uint16)
    tpc = max(1, chunk // K)  # targets per chunk
    for t0 in range(0, n_tgt, tpc):
        t1 = min(n_tgt, t0 + tpc)
        t = np.repeat(np.arange(t0, t1, dtype=np.int64), K)
        s = np.full(t.size, n_src, dtype=np.int64)
        pending = np.arange(t.size)
        for _attempt in range(64):
            z = rng.standard_normal((2, pending.size))
            x = wrap01(xt[t[pending]] + sigma * z[0])
            y = wrap01(yt[t[pending]] + sigma * z[1])
            cx = np.minimum((x * side_s).astype(np.int64), side_s - 1)
            cy = np.minimum((y * side_s).astype(np.int64), side_s - 1)
            c = cy * side_s + cx
            c[c >= n_src] = n_src
            if same_population:
                c[c == t[pending]] = n_src
            s[pending] = c
            pending = pending[c == n_src]
            if pending.size == 0:
                break
        if pending.size:  # pathological sigma / tiny population: uniform fallback
            c = rng.integers(0, n_src, pending.size)
            if same_population:
                c = np.where(c == t[pending], (t[pending] + 1) % n_src, c)
            s[pending] = c
        dist = np.hypot(torus_delta(xt[t], xs[s]), torus_delta(yt[t], ys[s]))
        steps = d_min + np.floor(dist * steps_per_unit + 0.5).astype(np.int64)
        a, b = t0 * K, t1 * K
        src[a:b] = s
        tgt[a:b] = t
        delay[a:b] = np.minimum(steps, DELAY_MAX_STEPS)
    # Source-major order (l5sim keeps each projection as a CSR by source; stable like to_csr).
    order = np.argsort(src, kind="stable")
    return src[order], tgt[order], delay[order]


# ------------------------------------------------------------------------------------------
# Model code (MODEL.md sections 2-6, include/l5sim/model/*.hpp), one time step in Brian2's
# schedule:  thresholds (v >= v_peak)  ->  after_thresholds: reset (burst-mode c, d chosen by
# the previous step's dendrite, adaptation jump, STDP trace jump, spike history)  ->
# synapses: background Poisson counts, delayed arrivals, STDP depression (this step's pre
# spikes), potentiation (this step's post spikes)  ->  end: background into the conductances,
# Euler decay of every conductance, dendrite (BAP, plateau test), soma (linearly implicit).
# ------------------------------------------------------------------------------------------
def soma_code(p, pyramidal):
    dt = DT_MS
    g_adapt = "g_adapt" if pyramidal else "0"
    lines = [
        # NMDA Mg gate at v, soma cap separately for recurrent and background NMDA
        f"q_s = (v + 80.0) * {lit(1 / 60)}",
        "gate_s = q_s * q_s / (1.0 + q_s * q_s)",
        f"gn_s = clip(g_nmda * gate_s, 0.0, {lit(SYN['nmda_cap'])})",
        f"gnb_s = clip(g_nmda_bg * gate_s, 0.0, {lit(SYN['nmda_cap'])})",
        f"G_s = g_ampa + gn_s + gnb_s + g_gaba + {g_adapt}",
        f"GE_s = g_ampa * {lit(SYN['E_ampa'])} + (gn_s + gnb_s) * {lit(SYN['E_nmda'])}"
        f" + g_gaba * {lit(SYN['E_gaba'])}"
        + (f" + g_adapt * {lit(ADAPT['E'])}" if pyramidal else ""),
        f"v_new = (v + {lit(dt / p['C'])} * ({lit(p['k'])} * (v - {lit(p['v_r'])})"
        f" * (v - {lit(p['v_t'])}) - u + GE_s)) / (1.0 + {lit(dt / p['C'])} * G_s)",
        f"u = u + {lit(dt * p['a'])} * ({lit(p['b'])} * (v - {lit(p['v_r'])}) - u)",
        "v = v_new",
    ]
    return lines


def decay_code(names_taus):
    return [f"{n} = {n} * {lit(1 - DT_MS / tau)}" for n, tau in names_taus]


def background_code(count_var, weight, targets, bg_mode, lam):
    if bg_mode == "poisson":  # draw the count here (Brian2's poisson(): multiplication method)
        lines = [f"{count_var} = poisson({lit(lam)})"]
    else:
        lines = []
    lines += [f"{g} = {g} + {lit(weight)} * {count_var}" for g in targets]
    if bg_mode == "poissoninput":
        lines.append(f"{count_var} = 0.0")
    return lines


def dendrite_code():
    d = DEND
    return [
        # BAP window: steps n + 5 ... n + 25 after a somatic spike at step n (two last spikes)
        "a1 = t_in_timesteps - ls1",
        "a2 = t_in_timesteps - ls2",
        f"bap_open = (a1 >= {d['bap_first']} and a1 <= {d['bap_last']})"
        f" or (a2 >= {d['bap_first']} and a2 <= {d['bap_last']})",
        f"bap = {lit(d['p_bap'])} * int(bap_open and rand() < gam)",
        "q_d = (v_d + 80.0) * " + lit(1 / 60),
        "gate_d = q_d * q_d / (1.0 + q_d * q_d)",
        f"isyn_d = g_ampa_d * ({lit(SYN['E_ampa'])} - v_d) + g_nmda_d * gate_d *"
        f" ({lit(SYN['E_nmda'])} - v_d) + g_gaba_d * ({lit(SYN['E_gaba'])} - v_d)",
        f"F_d = 1.0 / (1.0 + exp(({lit(d['E_half'])} - v_d) * {lit(1 / d['D'])}))",
        f"vd_new = v_d + {lit(DT_MS / d['C'])} * (-{lit(d['g_L'])} * (v_d - {lit(d['E_L'])})"
        f" + {lit(d['g_Ca'])} * F_d + bap + u_d + isyn_d)",
        f"u_d = u_d + {lit(DT_MS * d['a'])} * ({lit(d['b'])} * (v_d - {lit(d['E_L'])}) - u_d)",
        "v_d = vd_new",
        # plateau -> burst mode (c_burst, d_burst) at the next reset, with probability gamma
        f"burst = int(v_d >= {lit(d['theta_ca'])} and rand() < gam)",
    ]


def build_and_run(args):
    t_all = time.perf_counter()
    n = args.cells
    sizes = {"PYR": 8 * n // 10, "PV": n // 10}
    sizes["SOM"] = n - sizes["PYR"] - sizes["PV"]
    if min(sizes.values()) < 1:
        sys.exit("brian2_sheet.py: --cells must give every population at least one cell (>= 10)")
    duration_ms = args.duration_ms
    steps = int(round(duration_ms / DT_MS))

    # --- connectivity in numpy -----------------------------------------------------------
    t0 = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    conn = {}
    for name, src, tgt, comp, rec, A, sigma, share, dsrc, dsig in PROJECTIONS:
        K = int(round(share * args.k))
        if K < 1:
            sys.exit(f"brian2_sheet.py: --k {args.k} gives projection {name} no input")
        same = src == tgt
        i, j, dl = draw_sheet(sizes[src], sizes[tgt], K, sigma, same, rng)
        w = sparse_weight(A, dsrc, dsig, K, same)
        conn[name] = dict(i=i, j=j, delay=dl, K=K, w=w, src=src, tgt=tgt, comp=comp, rec=rec)
    t_construct = time.perf_counter() - t0

    # --- Brian2 objects ---------------------------------------------------------------------
    t0 = time.perf_counter()
    workdir = args.workdir or tempfile.mkdtemp(prefix="brian2_sheet_")
    if args.device == "cuda_standalone":
        import brian2cuda  # noqa: F401  (registers the device)
        b2.set_device("cuda_standalone", directory=workdir, build_on_run=False)
        # Brian2CUDA 1.0a7 writes -std=c++11 into its makefile; the CUDA 12+ headers (CCCL)
        # need C++17: the makefile is patched before it is run.
        compile_source = b2.device.compile_source

        def compile_cxx17(directory, *rest):
            mk = os.path.join(directory, "makefile")
            with open(mk) as f:
                text = f.read()
            with open(mk, "w") as f:
                f.write(text.replace("-std=c++11", "-std=c++17"))
            return compile_source(directory, *rest)

        b2.device.compile_source = compile_cxx17
        if args.cuda_arch:
            b2.prefs.devices.cuda_standalone.cuda_backend.detect_gpus = False
            b2.prefs.devices.cuda_standalone.cuda_backend.gpu_id = 0
            b2.prefs.devices.cuda_standalone.cuda_backend.compute_capability = float(args.cuda_arch)
    else:
        b2.set_device("cpp_standalone", directory=workdir, build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = args.threads
    if args.float32:
        b2.prefs.core.default_float_dtype = np.float32
    b2.defaultclock.dt = DT_MS * b2.ms
    b2.seed(args.seed)

    bg_mode = args.background
    groups, monitors, poisson_inputs = {}, {}, []
    decays = [("g_ampa", SYN["tau_ampa"]), ("g_nmda", SYN["tau_nmda"]),
              ("g_nmda_bg", SYN["tau_nmda"]), ("g_gaba", SYN["tau_gaba"])]
    dend_decays = [("g_ampa_d", SYN["tau_ampa"]), ("g_nmda_d", SYN["tau_nmda"]),
                   ("g_gaba_d", SYN["tau_gaba"])]
    for pop in ("PYR", "PV", "SOM"):
        p = SOMA[pop]
        pyr = pop == "PYR"
        eqs = ["v : 1", "u : 1", "g_ampa : 1", "g_nmda : 1", "g_nmda_bg : 1", "g_gaba : 1",
               "bg_s : 1"]
        reset = [f"v = {lit(p['c'])}", f"u = u + {lit(p['d'])}"]
        if pyr:
            eqs += ["g_adapt : 1", "v_d : 1", "u_d : 1", "g_ampa_d : 1", "g_nmda_d : 1",
                    "g_gaba_d : 1", "bg_d : 1", "gam : 1", "burst : integer",
                    "ls1 : integer", "ls2 : integer", "n_ca : integer",
                    "xtr : 1", "ytr : 1"]
            reset = [
                f"v = {lit(p['c'])} + {lit(p['c_burst'] - p['c'])} * burst",
                f"u = u + {lit(p['d'])} + {lit(p['d_burst'] - p['d'])} * burst",
                f"g_adapt = g_adapt + {lit(ADAPT['inc'])}",
                "n_ca = n_ca + burst",
                "ls2 = ls1",
                "ls1 = t_in_timesteps",
                "xtr = xtr + 1.0",  # STDP pre trace (all-to-all: +1)
                "ytr = ytr + 1.0",  # STDP post trace
            ]
        G = b2.NeuronGroup(sizes[pop], "\n".join(eqs), threshold=f"v >= {lit(p['v_peak'])}",
                           reset="\n".join(reset), method="euler", name=pop)
        # phase 1 before the synapses (l5sim: reset, history, adaptation and traces first)
        G.resetter["spike"].when = "after_thresholds"
        G.v = p["v_r"]
        if pyr:
            G.v_d = DEND["E_L"]
            G.gam = GAMMA
            G.ls1 = -1000000
            G.ls2 = -1000000
        code = []
        rate, weight = BACKGROUND[(pop, "soma")]
        code += background_code("bg_s", weight, ["g_ampa", "g_nmda_bg"], bg_mode,
                                rate * DT_MS * 1e-3)
        if pyr:
            rate_d, weight_d = BACKGROUND[(pop, "dendrite")]
            code += background_code("bg_d", weight_d, ["g_ampa_d", "g_nmda_d"], bg_mode,
                                    rate_d * DT_MS * 1e-3)
        code += decay_code(decays + ([("g_adapt", ADAPT["tau"])] + dend_decays if pyr else []))
        if pyr:
            code += [f"xtr = xtr * {lit(math.exp(-DT_MS / STDP['tau_plus']))}",
                     f"ytr = ytr * {lit(math.exp(-DT_MS / STDP['tau_minus']))}"]
            code += dendrite_code()
        code += soma_code(p, pyr)
        G.run_regularly("\n".join(code), when="end", name=f"{pop}_step")
        if bg_mode == "poissoninput":
            # N inputs of rate/N: Binomial(N, lambda/N) counts, ~Poisson(lambda) per step
            poisson_inputs.append(b2.PoissonInput(G, "bg_s", N=args.poisson_n,
                                                  rate=rate / args.poisson_n * b2.Hz,
                                                  weight="1.0"))
            if pyr:
                poisson_inputs.append(b2.PoissonInput(G, "bg_d", N=args.poisson_n,
                                                      rate=rate_d / args.poisson_n * b2.Hz,
                                                      weight="1.0"))
        groups[pop] = G
        monitors[pop] = b2.SpikeMonitor(G, record=True, name=f"spikes_{pop}")

    synapses = {}
    w_max = None
    for name, c in conn.items():
        suffix = "_d" if c["comp"] == "dendrite" else ""
        on = []
        for r, f in c["rec"].items():
            g = {"ampa": "g_ampa", "nmda": "g_nmda", "gaba": "g_gaba"}[r] + suffix
            on.append(f"{g}_post += {lit(f)} * w" if f != 1.0 else f"{g}_post += w")
        if name == "PYR_PYR":
            w_max = float(np.float32(STDP["w_max_factor"] * c["w"]))
            a_plus = STDP["A_plus"] * w_max
            a_minus = STDP["A_minus_ratio"] * a_plus
            eta = STDP["eta"]
            S = b2.Synapses(
                groups[c["src"]], groups[c["tgt"]], model="w : 1",
                on_pre={"pre": "\n".join(on),
                        # depression at the presynaptic spike (l5sim: when it is propagated)
                        "depress": f"w = clip(w - {lit(eta * a_minus)} * ytr_post, 0.0,"
                                   f" {lit(w_max)})"},
                on_post=f"w = clip(w + {lit(eta * a_plus)} * xtr_pre, 0.0, {lit(w_max)})",
                delay={"depress": 0 * b2.ms}, name=name)
        else:
            S = b2.Synapses(groups[c["src"]], groups[c["tgt"]], model="w : 1 (constant)",
                            on_pre="\n".join(on), name=name)
        S.connect(i=c["i"], j=c["j"])
        S.w = c["w"]
        S.pre.delay = c["delay"].astype(np.float64) * DT_MS * b2.ms
        synapses[name] = S

    net = b2.Network(list(groups.values()) + list(monitors.values()) + poisson_inputs
                     + list(synapses.values()))
    net.run(duration_ms * b2.ms, namespace={})
    t_objects = time.perf_counter() - t0

    # --- code generation, compilation, run ------------------------------------------------
    t0 = time.perf_counter()
    b2.device.build(directory=workdir, compile=True, run=not args.compile_only,
                    clean=not args.no_clean, with_output=False)
    if args.compile_only:
        return {"simulator": f"brian2 {args.device}", "compiled": workdir,
                "brian2_version": b2.__version__}
    t_build = time.perf_counter() - t0
    timers = b2.device.timers
    t_make = timers["compile"]["make"] or 0.0
    t_clean = timers["compile"]["clean"] or 0.0
    t_binary = timers["run_binary"] or 0.0
    t_loop = float(b2.device._last_run_time)
    completed = float(b2.device._last_run_completed_fraction)

    # --- results ------------------------------------------------------------------------
    pops = {}
    spike_counts = {}
    for pop, m in monitors.items():
        counts = np.asarray(m.count[:], dtype=np.int64)
        spike_counts[pop] = counts
        total = int(counts.sum())
        entry = dict(n=sizes[pop], spikes=total, rate_hz=total / sizes[pop] / (duration_ms / 1e3))
        # burst fraction (MODEL.md section 10): spikes in runs of >= 2 with ISI < 10 ms
        idx = np.asarray(m.i[:], dtype=np.int64)
        ts = np.rint(np.asarray(m.t[:] / b2.ms, dtype=np.float64) / DT_MS).astype(np.int64)
        order = np.lexsort((ts, idx))
        idx, ts = idx[order], ts[order]  # spike steps, by cell, in time order
        same = idx[1:] == idx[:-1]
        short = same & (np.diff(ts) < int(round(10.0 / DT_MS)))
        in_burst = np.zeros(ts.size, dtype=bool)
        in_burst[1:] |= short
        in_burst[:-1] |= short
        entry["burst_fraction"] = float(in_burst.sum() / total) if total else 0.0
        if pop == "PYR":
            n_ca = int(np.asarray(groups[pop].n_ca[:]).sum())
            entry["calcium_fraction"] = n_ca / total if total else 0.0
            isi = np.diff(ts)[same]
            entry["min_isi_ms"] = float(isi.min() * DT_MS) if isi.size else None
        else:
            entry["calcium_fraction"] = 0.0
        pops[pop] = entry
    events = 0
    proj_info = {}
    for name, c in conn.items():
        outdeg = np.bincount(c["i"], minlength=sizes[c["src"]]).astype(np.int64)
        ev = int(np.dot(spike_counts[c["src"]], outdeg))
        events += ev
        proj_info[name] = dict(source=c["src"], target=c["tgt"], compartment=c["comp"],
                               K=c["K"], synapses=int(c["i"].size), weight_nS=c["w"],
                               mean_delay_ms=float(c["delay"].mean() * DT_MS),
                               max_delay_ms=float(c["delay"].max() * DT_MS),
                               synaptic_events=ev)
    proj_info["PYR_PYR"]["w_max_nS"] = w_max
    w_final = np.asarray(synapses["PYR_PYR"].w[:])
    proj_info["PYR_PYR"]["w_final_mean_nS"] = float(w_final.mean())
    n_syn = sum(int(c["i"].size) for c in conn.values())
    bio_s = duration_ms / 1e3
    codegen = max(0.0, t_build - t_make - t_clean - t_binary)
    result = {
        "simulator": f"brian2 {args.device}",
        "brian2_version": b2.__version__,
        "numpy_version": np.__version__,
        "python": platform.python_version(),
        "host": platform.node(),
        "cells": n, "k": args.k, "seed": args.seed, "threads": args.threads,
        "dt_ms": DT_MS, "duration_ms": duration_ms, "steps": steps,
        "float_dtype": "float32" if args.float32 else "float64",
        "background": bg_mode + (f" (N={args.poisson_n})" if bg_mode == "poissoninput" else ""),
        "compiler_flags": list(b2.prefs.codegen.cpp.extra_compile_args_gcc),
        "brian2cuda_version": (__import__("brian2cuda").__version__
                               if args.device == "cuda_standalone" else None),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
        "workdir": os.path.abspath(workdir),
        "populations": pops,
        "projections": proj_info,
        "synapses": n_syn,
        "synaptic_events": events,
        "timing": {
            "construct_s": t_construct,        # numpy connectivity generation
            "brian2_objects_s": t_objects,     # Brian2 objects, connect, set-up (Python)
            "codegen_s": codegen,              # code generation + writing the project
            "compile_s": t_make + t_clean,     # make (+ make clean)
            "run_binary_s": t_binary,          # the binary: init, loop, writing results
            "loop_s": t_loop,                  # the step loop only (compare with l5sim wall_s)
            "loop_completed_fraction": completed,
            "wall_per_bio_s": t_loop / bio_s,
            "events_per_s": events / t_loop if t_loop > 0 else None,
            "total_s": time.perf_counter() - t_all,
        },
    }
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", type=int, required=True, help="total cells (80/10/10 split)")
    ap.add_argument("--k", type=int, default=100, help="in-degree K per cell (default 100)")
    ap.add_argument("--duration-ms", type=float, default=1000.0)
    ap.add_argument("--threads", type=int, default=2, help="OpenMP threads (default 2)")
    ap.add_argument("--device", choices=["cpp_standalone", "cuda_standalone"],
                    default="cpp_standalone",
                    help="Brian2 C++ standalone (CPU, OpenMP) or Brian2CUDA (GPU)")
    ap.add_argument("--cuda-arch", help="cuda_standalone: compute capability to compile for "
                    "(e.g. 9.0) instead of detecting the GPU")
    ap.add_argument("--compile-only", action="store_true",
                    help="generate and compile the project, do not run it")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", help="Brian2 project directory (default: a new temp dir)")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--background", choices=["poissoninput", "poisson"],
                    default="poissoninput",
                    help="poissoninput: Brian2 PoissonInput (binomial counts, default); "
                         "poisson: a Poisson count drawn in the cell update (exact)")
    ap.add_argument("--poisson-n", type=int, default=1000,
                    help="inputs per PoissonInput (count ~ Binomial(N, lambda/N); default 1000)")
    ap.add_argument("--float32", action="store_true",
                    help="Brian2 default_float_dtype float32 (l5sim's state is float)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run the compiled binary this many times, report the fastest loop")
    ap.add_argument("--no-clean", action="store_true",
                    help="do not 'make clean' first (an existing --workdir rebuilds less)")
    args = ap.parse_args()
    if args.threads < 1:
        sys.exit("brian2_sheet.py: --threads must be >= 1")
    if tuple(int(x) for x in np.__version__.split(".")[:2]) >= (2, 4):
        print(f"brian2_sheet.py: warning: numpy {np.__version__} breaks brian2 2.9; "
              "use python3 -m pip install 'numpy<2.4'", file=sys.stderr)
    r = build_and_run(args)
    if args.repeat > 1:
        # Rerun the compiled binary (same network and seed: it reads its initial state from the
        # project) and keep the fastest loop, as bench/run.py does for l5sim on a noisy machine.
        env = dict(os.environ)
        loops = [r["timing"]["loop_s"]]
        workdir = r["workdir"]
        for _ in range(args.repeat - 1):
            subprocess.run(["./main"], cwd=workdir, env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with open(os.path.join(workdir, "results", "last_run_info.txt")) as f:
                loops.append(float(f.read().split()[0]))
        t = r["timing"]
        t["loop_repeats_s"] = loops
        t["loop_s"] = min(loops)
        t["wall_per_bio_s"] = t["loop_s"] / (r["duration_ms"] * 1e-3)
        t["events_per_s"] = r["synaptic_events"] / t["loop_s"]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=2)
    t = r["timing"]
    p = r["populations"]
    print(f"brian2 sheet: {r['cells']} cells, {r['synapses']} synapses, "
          f"{r['duration_ms']:g} ms, {r['threads']} threads: "
          f"PYR {p['PYR']['rate_hz']:.2f} Hz, PV {p['PV']['rate_hz']:.2f} Hz, "
          f"SOM {p['SOM']['rate_hz']:.2f} Hz, calcium {p['PYR']['calcium_fraction']:.2f}; "
          f"events {r['synaptic_events']}; construct {t['construct_s']:.2f} s, "
          f"objects {t['brian2_objects_s']:.2f} s, codegen {t['codegen_s']:.2f} s, "
          f"compile {t['compile_s']:.2f} s, binary {t['run_binary_s']:.2f} s, "
          f"loop {t['loop_s']:.3f} s ({t['wall_per_bio_s']:.3f} wall s per bio s)")


if __name__ == "__main__":
    main()
