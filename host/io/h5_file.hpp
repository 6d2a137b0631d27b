#pragma once
// HDF5 writing for the output files (output.cpp): checked calls, owned handles, chunked and
// compressed datasets written in blocks, and whole files written under a .part name and
// renamed, so that a failure leaves nothing half-written.
#include <hdf5.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "io/durable.hpp"
#include "l5sim/error.hpp"
#include "l5sim/output.hpp"

namespace l5sim::h5io {

namespace fs = std::filesystem;

// HDF5 reports failures through return codes and an error stack; its own printing of that
// stack to stderr (hundreds of lines on a full disk) is off, and a failure becomes one Error
// whose message ends in the cause: the operating system's message when a write or a flush
// failed ("No space left on device"), else HDF5's innermost description.
//
// HDF5 1.10 also closes, at exit, every file still open; a file whose close failed (a full disk)
// stays half-open in the library and that exit-time close crashes (SIGSEGV in H5F__close_cb).
// Every file l5sim writes is closed explicitly (or failed), so the exit-time clean-up has
// nothing to do: it is switched off (H5dont_atexit, before the library's first use).
inline void quiet_hdf5() {
    static const bool once = [] {
        H5dont_atexit();
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
        return true;
    }();
    (void)once;
}

inline herr_t collect_error(unsigned n, const H5E_error2_t* e, void* out) {
    auto* causes = static_cast<std::vector<std::string>*>(out);
    (void)n;
    if (e && e->desc) causes->emplace_back(e->desc);
    return 0;
}

// The cause of the HDF5 failure just reported (and the stack cleared).
inline std::string hdf5_cause() {
    std::vector<std::string> causes;  // innermost first
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect_error, &causes);
    H5Eclear2(H5E_DEFAULT);
    static const std::string key = "error message = '";
    for (const auto& c : causes) {
        const auto at = c.find(key);
        if (at != std::string::npos) {
            const auto end = c.find('\'', at + key.size());
            return c.substr(at + key.size(),
                            end == std::string::npos ? end : end - at - key.size());
        }
    }
    return causes.empty() ? std::string("unknown HDF5 error") : causes.front();
}

// Throws unless an HDF5 call succeeded (status >= 0).
inline void h5_check(herr_t status, const std::string& what) {
    if (status < 0) throw Error(hdf5_cause() + " (HDF5: " + what + ")");
}

// RAII for one HDF5 handle. close() closes it and throws on failure (a dataset's close writes
// its cached chunks); the destructor closes what an exception left open, ignoring errors.
class H5 {
  public:
    H5(hid_t id, herr_t (*close)(hid_t), const std::string& what) : id_(id), close_(close) {
        if (id_ < 0) throw Error(hdf5_cause() + " (HDF5: " + what + ")");
    }
    ~H5() {
        if (id_ >= 0) {
            close_(id_);
            H5Eclear2(H5E_DEFAULT);
        }
    }
    H5(const H5&) = delete;
    H5& operator=(const H5&) = delete;
    operator hid_t() const { return id_; }
    void close(const std::string& what) {
        const hid_t id = id_;
        id_ = -1;
        h5_check(close_(id), "close " + what);
    }

  private:
    hid_t id_;
    herr_t (*close_)(hid_t);
};

inline hid_t create_group(hid_t parent, const std::string& name) {
    H5 plist(H5Pcreate(H5P_GROUP_CREATE), H5Pclose, "create a property list");
    h5_check(H5Pset_obj_track_times(plist, 0), "set a property");
    return H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, plist, H5P_DEFAULT);
}

inline void write_attr_string(hid_t obj, const std::string& name, const std::string& value) {
    H5 type(H5Tcopy(H5T_C_S1), H5Tclose, "copy a string type");
    h5_check(H5Tset_size(type, value.size() + 1), "size a string type");
    H5 space(H5Screate(H5S_SCALAR), H5Sclose, "create a scalar space");
    H5 attr(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
            "create attribute " + name);
    h5_check(H5Awrite(attr, type, value.c_str()), "write attribute " + name);
    attr.close("attribute " + name);
}

// The SONATA spike report's `sorting` attribute: an enumeration {none, by_id, by_time} (libsonata
// reads it into its enum Sorting : char), here by_time.
inline void write_sorting(hid_t group) {
    H5 type(H5Tenum_create(H5T_STD_I8LE), H5Tclose, "create an enumeration type");
    const int8_t none = 0, by_id = 1, by_time = 2;
    h5_check(H5Tenum_insert(type, "none", &none), "define the sorting enumeration");
    h5_check(H5Tenum_insert(type, "by_id", &by_id), "define the sorting enumeration");
    h5_check(H5Tenum_insert(type, "by_time", &by_time), "define the sorting enumeration");
    H5 space(H5Screate(H5S_SCALAR), H5Sclose, "create a scalar space");
    H5 attr(H5Acreate2(group, "sorting", type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
            "create attribute sorting");
    h5_check(H5Awrite(attr, type, &by_time), "write attribute sorting");
    attr.close("attribute sorting");
}

// The creation properties of a dataset of `dims`: chunked and compressed when large.
inline hid_t dataset_plist(const std::vector<hsize_t>& dims) {
    const hid_t plist = H5Pcreate(H5P_DATASET_CREATE);
    if (plist < 0) throw Error(hdf5_cause() + " (HDF5: create a property list)");
    hsize_t total = 1;
    for (auto d : dims) total *= d;
    herr_t ok = H5Pset_obj_track_times(plist, 0);  // no modification times: same run, same bytes
    if (ok >= 0 && total >= 4096) {
        std::vector<hsize_t> chunk(dims);
        chunk[0] = std::min<hsize_t>(dims[0], std::max<hsize_t>(1, 65536 / (total / dims[0])));
        ok = H5Pset_chunk(plist, static_cast<int>(chunk.size()), chunk.data());
        if (ok >= 0) ok = H5Pset_deflate(plist, 4);
    }
    if (ok < 0) {
        const std::string cause = hdf5_cause();
        H5Pclose(plist);
        throw Error(cause + " (HDF5: set a dataset's layout)");
    }
    return plist;
}

// A dataset of `dims` (1-D or 2-D), chunked and compressed when large.
inline void write_dataset(hid_t parent, const std::string& name, hid_t mem_type, hid_t file_type,
                          const std::vector<hsize_t>& dims, const void* data) {
    H5 space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose,
             "create a dataspace for " + name);
    H5 plist(dataset_plist(dims), H5Pclose, "create a property list");
    hsize_t total = 1;
    for (auto d : dims) total *= d;
    H5 ds(H5Dcreate2(parent, name.c_str(), file_type, space, H5P_DEFAULT, plist, H5P_DEFAULT),
          H5Dclose, "create dataset " + name);
    if (total > 0)
        h5_check(H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data),
                 "write dataset " + name);
    ds.close("dataset " + name);
}

// A dataset of n rows (1-D, or 2-D with `width` columns) written in blocks of rows at increasing
// offsets, so that a source of any length streams through a bounded buffer; the same layout as
// write_dataset's.
class BlockDataset {
  public:
    BlockDataset(hid_t parent, const std::string& name, hid_t mem_type, hid_t file_type, hsize_t n,
                 hsize_t width = 0)
        : name_(name),
          mem_type_(mem_type),
          n_(n),
          width_(width),
          space_(H5Screate_simple(width ? 2 : 1, dims(n, width).data(), nullptr), H5Sclose,
                 "create a dataspace for " + name),
          plist_(dataset_plist(dims(n, width)), H5Pclose, "create a property list"),
          ds_(H5Dcreate2(parent, name.c_str(), file_type, space_, H5P_DEFAULT, plist_, H5P_DEFAULT),
              H5Dclose, "create dataset " + name) {}
    void write(hsize_t offset, hsize_t rows, const void* data) {
        if (rows == 0 || (width_ == 0 && n_ == 0)) return;
        if (offset + rows > n_) throw Error("HDF5: block past the end of " + name_);
        const auto count = dims(rows, width_);
        const std::vector<hsize_t> start =
            width_ ? std::vector<hsize_t>{offset, 0} : std::vector<hsize_t>{offset};
        if (width_ && count[1] == 0) return;
        H5 mem(H5Screate_simple(width_ ? 2 : 1, count.data(), nullptr), H5Sclose,
               "create a memory space");
        H5 file(H5Dget_space(ds_), H5Sclose, "get the space of " + name_);
        h5_check(
            H5Sselect_hyperslab(file, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr),
            "select rows of " + name_);
        h5_check(H5Dwrite(ds_, mem_type_, mem, file, H5P_DEFAULT, data), "write dataset " + name_);
    }
    /// Close the dataset, writing its cached chunks (throws on failure).
    void close() { ds_.close("dataset " + name_); }
    operator hid_t() const { return ds_; }

  private:
    static std::vector<hsize_t> dims(hsize_t n, hsize_t width) {
        return width ? std::vector<hsize_t>{n, width} : std::vector<hsize_t>{n};
    }
    std::string name_;
    hid_t mem_type_;
    hsize_t n_, width_;
    H5 space_, plist_, ds_;
};

// Rows appended one at a time to a BlockDataset, written kBlockElements at a time.
constexpr hsize_t kBlockElements = 65536;
template <class T>
class RowWriter {
  public:
    RowWriter(BlockDataset& ds, hsize_t width)
        : ds_(ds),
          width_(width ? width : 1),
          rows_(std::max<hsize_t>(1, kBlockElements / (width ? width : 1))) {}
    void push(const T* row) {
        buf_.insert(buf_.end(), row, row + width_);
        if (buf_.size() == rows_ * width_) flush();
    }
    void push(T x) { push(&x); }
    void flush() {
        const hsize_t rows = buf_.size() / width_;
        ds_.write(at_, rows, buf_.data());
        at_ += rows;
        buf_.clear();
    }
    hsize_t rows() const { return at_ + buf_.size() / width_; }

  private:
    BlockDataset& ds_;
    hsize_t width_, rows_, at_ = 0;
    std::vector<T> buf_;
};

// An HDF5 file written whole under `final_path`.part, closed (every write checked, the cached
// data flushed), synced and renamed; on any failure the .part file is removed, nothing is
// renamed, and the Error names the file and the cause.
template <class F>
void write_h5(const fs::path& final_path, F&& body) {
    quiet_hdf5();
    const fs::path tmp = final_path.string() + ".part";
    std::error_code ec;
    try {
        H5 fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "create a property list");
        // Closing the file closes whatever an exception left open in it.
        h5_check(H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG), "set a property");
        H5 file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl), H5Fclose, "create it");
        body(static_cast<hid_t>(file));
        file.close("it");
        sync_file(tmp);
    } catch (const Error& e) {
        fs::remove(tmp, ec);
        const std::string what = e.what();
        throw Error("cannot write " + tmp.string() + ": " +
                    (what.rfind("cannot write " + tmp.string(), 0) == 0
                         ? what.substr(15 + tmp.string().size())
                         : what));
    }
    commit_file(tmp, final_path);
}

}  // namespace l5sim::h5io
