// Reading spikes.h5 (io/spike_file.hpp), with the writer's checked HDF5 calls (io/h5_file.hpp).
#include "io/spike_file.hpp"

#include "io/h5_file.hpp"

namespace l5sim {

namespace {

using namespace h5io;  // NOLINT: the HDF5 helpers

template <class T>
std::vector<T> read_all(hid_t group, const std::string& name, hid_t mem_type) {
    H5 set(H5Dopen2(group, name.c_str(), H5P_DEFAULT), H5Dclose, "open " + name);
    H5 space(H5Dget_space(set), H5Sclose, "read the shape of " + name);
    const hssize_t n = H5Sget_simple_extent_npoints(space);
    if (n < 0) throw Error("cannot read the shape of " + name);
    std::vector<T> out(static_cast<size_t>(n));
    if (n > 0)
        h5_check(H5Dread(set, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), "read " + name);
    return out;
}

}  // namespace

std::vector<SpikeTrain> read_spike_file(const std::filesystem::path& path,
                                        const std::vector<std::string>& populations) {
    quiet_hdf5();
    try {
        if (!std::filesystem::exists(path)) throw Error("no such file");
        H5 file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, "open it");
        H5 root(H5Gopen2(file, "spikes", H5P_DEFAULT), H5Gclose, "open /spikes");
        std::vector<SpikeTrain> out;
        for (const auto& name : populations) {
            if (H5Lexists(root, name.c_str(), H5P_DEFAULT) <= 0)
                throw Error("no /spikes/" + name + " (a file of another config?)");
            H5 g(H5Gopen2(root, name.c_str(), H5P_DEFAULT), H5Gclose, "open /spikes/" + name);
            SpikeTrain s;
            s.population = name;
            s.t_ms = read_all<double>(g, "timestamps", H5T_NATIVE_DOUBLE);
            s.ids = read_all<uint64_t>(g, "node_ids", H5T_NATIVE_UINT64);
            if (s.t_ms.size() != s.ids.size())
                throw Error("/spikes/" + name + ": timestamps and node_ids differ in length");
            out.push_back(std::move(s));
        }
        return out;
    } catch (const Error& e) {
        throw Error("cannot read " + path.string() + ": " + e.what());
    }
}

}  // namespace l5sim
