// Post-side STDP finds the source of reverse-index entry (t, k) by recomputing the connectivity
// draw (no per-synapse source array). It must name exactly the CSR row that holds the synapse,
// also in the kernels' form (model::SourcesOf: the target's position drawn once).
#include <gtest/gtest.h>

#include "l5sim/network.hpp"
#include "test_util.hpp"

using namespace l5sim;

namespace {

void expect_sources_match(const Config& cfg) {
    const Network net = build_network(cfg);
    for (uint32_t j = 0; j < cfg.projections.size(); ++j) {
        const auto& c = net.projections[j];
        ASSERT_FALSE(c.rev.empty()) << "projection " << j << " should be plastic";
        const auto rule = source_rule(cfg, j);
        for (uint32_t t = 0; t < c.n_tgt; ++t) {
            const model::SourcesOf sources(rule, t);  // the kernels' form: one position per t
            for (uint32_t k = 0; k < c.in_degree; ++k) {
                const uint32_t syn = c.rev[uint64_t(t) * c.in_degree + k];
                ASSERT_EQ(c.target[syn], t);
                const uint32_t row = model::csr_row_of(c.row_ptr.data(), c.n_src, syn);
                ASSERT_EQ(model::source_of(rule, t, k), row)
                    << "projection " << j << " target " << t << " k " << k;
                ASSERT_EQ(sources(k), row) << "projection " << j << " target " << t << " k " << k;
            }
        }
    }
}

}  // namespace

TEST(SourceRule, SheetDrawRecomputesTheCsrRow) {
    expect_sources_match(test::config_from(R"(
network: {layout: sheet, positions: jittered}
populations:
  A: {type: pyramidal, n: 2000}
  B: {type: pv, n: 333}
projections:
  AA: {source: A, target: A, receptors: {ampa: 1}, connectivity: {K: 50, sigma: 0.05}, stdp: {}}
  BA: {source: B, target: A, receptors: {gaba_a: 1}, connectivity: {K: 7, sigma: 0.2}, stdp: {}}
  AB: {source: A, target: B, receptors: {ampa: 1}, connectivity: {K: 30, sigma: 0.01, autapses: true},
       stdp: {}}
)"));
}

TEST(SourceRule, DenseRingSkipsOnlyTheAutapse) {
    expect_sources_match(test::config_from(R"(
populations:
  A: {type: pyramidal, n: 40}
  B: {type: som, n: 9}
projections:
  AA: {source: A, target: A, receptors: {ampa: 1}, stdp: {}}
  AAself: {source: A, target: A, receptors: {ampa: 1}, connectivity: {autapses: true}, stdp: {}}
  BA: {source: B, target: A, receptors: {gaba_a: 1}, stdp: {}}
)"));
}
