"""Regions: China's administrative divisions (GB/T 2260), cross-region (异地) signals, and
later the regional risk profiles and policies.

The division list comes from a maintained data package (cpca's adcode table), not typed by
hand, so merged counties and new districts arrive with a dependency bump. Everything but the
seed loader is pure and works on frozen values.
"""
