"""What operators and sensors share: waiting, results, policy, argument checks, job parts."""
