"""Raking weights of a small fixed panel, computed with Meta's balance
(pip install balance==0.23.0), kept as rake_balance.json for
TestRakeMatchesBalance. Run: python3 rake_balance.py > rake_balance.json"""
import json

import pandas as pd
from balance.weighting_methods import rake

members = [
    ("FR", "ios"), ("FR", "ios"), ("FR", "android"), ("EG", "ios"),
    ("EG", "android"), ("EG", "android"), ("EG", "ios"), ("IN", "android"),
    ("IN", "android"), ("IN", "ios"), ("IN", "android"), ("IN", "android"),
]
targets = {"country": {"FR": 300.0, "EG": 500.0, "IN": 1200.0},
           "platform": {"ios": 700.0, "android": 1300.0}}
total = 2000.0
sample = pd.DataFrame({"country": [m[0] for m in members], "platform": [m[1] for m in members]})
start = pd.Series([total / len(members)] * len(members))
fit = rake.rake(sample, start, None, None, variables=["country", "platform"], transformations=None,
                max_iteration=100000, convergence_rate=1e-12, rate_tolerance=0,
                target_margins=targets)
w = fit["weight"]
print(json.dumps({"source": "balance 0.23.0 rake (target_margins, transformations=None, convergence_rate=1e-12)",
                  "members": members, "targets": targets, "weights": [float(x) for x in w]}, indent=1))
