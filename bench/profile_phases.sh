set -u
B=bench/sheet_k1000.yaml
for spec in "1000000 50 1" "1000000 50 0.5" "10000 200 1"; do
  set -- $spec; n=$1; d=$2; a=$3
  pyr=$((n*8/10)); pv=$((n/10))
  out=$OUT/p_${n}_$a
  .gpu/run l5sim run $B --out $out --force -q --backend cuda --profile --set populations.PYR.n=$pyr --set populations.PV.n=$pv --set populations.SOM.n=$pv --set simulation.duration_ms=$d --set projections.PYR_PYR.connectivity.A=$a > $out.log 2>&1
  python3 -c "
import json,sys; s=json.load(open('$out/summary.json')); t=s['timing']; p=t['phases_s']; bio=t['bio_s']
print('n=$n A=$a', 'wall/bio %.3f'%t['wall_per_bio_s'], 'rates', {k:round(v['rate_hz'],1) for k,v in s['populations'].items()})
print('   per bio s:', {k: round(v/bio,3) for k,v in p.items()})"
done
