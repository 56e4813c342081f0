# store layer: see src/store/*.h. (sources are added as the layer is built)
