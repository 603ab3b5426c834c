using Cake.Core.IO;

namespace Cake.Frosting.Internal;

/// <summary>The working directory <see cref="ServiceCollectionExtensions.UseWorkingDirectory"/> registered.</summary>
internal sealed record WorkingDirectory(DirectoryPath Path);

/// <summary>One configuration value <see cref="ServiceCollectionExtensions.UseCakeSetting"/> registered.</summary>
internal sealed record CakeSettingValue(string Key, string Value);
