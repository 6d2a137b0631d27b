#!/usr/bin/env bash
# Pack this machine's Open MPI (Debian's openmpi-bin, libopenmpi3, libpmix2) as a relocatable
# prefix, so that a GPU machine without it can run `mpiexec` (CUDA ranks: bench/gpu_check.sh).
# Usage: bench/mpi_bundle.sh OUT_DIR      (e.g. .gpu/mpi, beside ../shared/gpu/bundle's .gpu)
# Then, there: OUT_DIR/mpiexec -n 2 PROGRAM ...  (sets OPAL_PREFIX, the plugin and help paths,
# PATH for orted and LD_LIBRARY_PATH; the ranks' program is a bundled one: .gpu/run l5sim ...).
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: bench/mpi_bundle.sh OUT_DIR" >&2; exit 2; }
out=$1
arch=x86_64-linux-gnu
ompi=/usr/lib/$arch/openmpi
pmix=/usr/lib/$arch/pmix2
for f in /usr/bin/orterun /usr/bin/orted "$ompi/lib/openmpi3" "$pmix/lib/pmix" /usr/share/openmpi; do
  [ -e "$f" ] || { echo "mpi_bundle: $f is missing (apt-get install openmpi-bin libopenmpi-dev)" >&2; exit 1; }
done
rm -rf "$out"
# The prefix as Open MPI relocates it (OPAL_PREFIX replaces /usr): bin, the plugin directory,
# the help files; PMIx's own plugins and help files under its prefix.
mkdir -p "$out/bin" "$out/lib" "$out/lib/$arch/openmpi/lib" "$out/share" "$out/pmix/lib" "$out/etc"
cp -L /usr/bin/orterun /usr/bin/orted "$out/bin/"
cp -rL "$ompi/lib/openmpi3" "$out/lib/$arch/openmpi/lib/"
cp -rL /usr/share/openmpi "$out/share/"
cp -rL "$pmix/lib/pmix" "$out/pmix/lib/"
[ -d "$pmix/share" ] && cp -rL "$pmix/share" "$out/pmix/"
cp -L /etc/openmpi/openmpi-mca-params.conf "$out/etc/" 2>/dev/null || : > "$out/etc/openmpi-mca-params.conf"
# Every library the programs and plugins load, but the C library family.
libs() {
  ldd "$1" 2>/dev/null | awk '/=> \//{print $3}' | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libresolv.so*|libcuda.so*) ;;
      *) cp -Ln "$lib" "$out/lib/" 2>/dev/null || true ;;
    esac
  done
}
libs /usr/bin/orterun
libs /usr/bin/orted
while IFS= read -r -d '' so; do libs "$so"; done < <(find "$out/lib/$arch" "$out/pmix" -name '*.so' -print0)
cat > "$out/mpiexec" <<'RUN'
#!/usr/bin/env bash
# Open MPI relocated to this directory (bench/mpi_bundle.sh).
here=$(cd "$(dirname "$0")" && pwd)
export OPAL_PREFIX="$here" OPAL_SYSCONFDIR="$here/etc" PMIX_INSTALL_PREFIX="$here/pmix"
export OMPI_MCA_mca_base_component_path="$here/lib/x86_64-linux-gnu/openmpi/lib/openmpi3"
export PMIX_MCA_mca_base_component_path="$here/pmix/lib/pmix"
export PATH="$here/bin:$PATH"
export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$here/bin/orterun" "$@"
RUN
chmod +x "$out/mpiexec"
du -sh "$out" | awk '{print "mpi_bundle: " $1 " in " $2}'
